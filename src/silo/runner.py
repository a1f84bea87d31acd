"""Runner: expand a sweep into episode specs and run them into a run directory, resumably.

Completed episodes are skipped on a re-run, errored ones retried; each finished episode is
written atomically, so a kill at any moment loses at most the episodes in flight. Whatever
happens to one episode (its team cannot be built, its run raises, it exceeds its wall-clock
limit, its record cannot be written or scored) marks that episode, never the run.

Options that cannot change a result (RUNTIME_KEYS: where the model is served, cache, retries,
timeouts, concurrency, prices) are run facts: they stay out of episode configs and ids, so they
may change on resume; the agents still get them (EpisodeSpec.runtime).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from silo import llm
from silo.episode import Agent, AgentFailure, episode_id, run_episode
from silo.protocols import protocol_class
from silo.records import Episode, EpisodeConfig, Instance, RunConfig, Usage
from silo.rundir import RUNTIME_KEYS, RunDir, RunDirError, atomic_write
from silo.score_jobs import score_run, score_safely  # score_run: re-exported, its home is score_jobs
from silo.tasks import get_task

__all__ = ["EpisodeSpec", "RunDir", "RunDirError", "atomic_write", "expand", "run_specs", "score_run", "score_safely"]


log = logging.getLogger(__name__)
RUN_ONLY_KEYS = {"instances_source", "matched_to"} | RUNTIME_KEYS  # RunConfig.extra keys kept out of episode configs
DEFAULT_EPISODE_TIMEOUT_S = 4 * 3600.0


@dataclass(frozen=True)
class EpisodeSpec:
    """One cell of a sweep: the config of an episode; its instance is generated on demand."""

    config: EpisodeConfig
    loaded: Instance | None = None  # an instance loaded from a published dataset, used as is
    runtime: dict[str, Any] = field(default_factory=dict, compare=False)  # RUNTIME_KEYS options for the agents

    @property
    def instance(self) -> Instance:
        if self.loaded is not None:
            return self.loaded
        c = self.config
        return get_task(c.task).make_instance(c.n_agents, c.suite_seed, c.replicate)

    @property
    def id(self) -> str:
        c = self.config
        t = get_task(c.task)
        inst_id = self.loaded.id if self.loaded else f"{t.id}-v{t.version}-n{c.n_agents}-s{c.suite_seed}-r{c.replicate}"
        return episode_id(c, inst_id)


def resolve_models(models: list[str] | None, n: int) -> list[str] | None:
    """Per-agent models: plain (or '*=model') entries are cycled over agent ids; 'K=model' pins agent K."""
    if not models:
        return None
    pinned, cycle = {}, []
    for m in models:
        head, sep, rest = m.partition("=")
        if sep and head.strip().isdigit():
            pinned[int(head)] = rest.strip()
        elif sep and head.strip() == "*":  # '*=model': every agent not pinned (e.g. '*=partner:informative')
            cycle.append(rest.strip())
        else:
            cycle.append(m)
    bad = [k for k in pinned if k >= n]
    if bad:
        raise ValueError(f"model pinned to agent {bad[0]}, but N = {n}")
    if not cycle and len(pinned) < n:
        raise ValueError("every agent needs a model: pin all of them or give models to cycle")
    return [pinned.get(a) or cycle[a % len(cycle)] for a in range(n)]


def expand_loaded(rc: RunConfig, instances: list[Instance]) -> list[EpisodeSpec]:
    """Episodes over instances loaded from a dataset (exact reproduction of a published version)."""
    tasks = {get_task(t).id for t in rc.tasks}
    chosen = [i for i in instances if i.task in tasks and i.n_agents in set(rc.n_agents)]
    specs = []
    for inst in chosen:
        one = rc.model_copy(update={"tasks": [inst.task], "n_agents": [inst.n_agents], "replicates": 1,
                                    "seed": inst.suite_seed})
        for spec in expand(one):
            cfg = spec.config.model_copy(update={"replicate": inst.replicate})
            specs.append(EpisodeSpec(cfg, loaded=inst, runtime=spec.runtime))
    return specs


def expand(rc: RunConfig) -> list[EpisodeSpec]:
    """Every episode of a sweep in a stable order; N = 1 runs once, with no protocol."""
    tasks = [get_task(t).key for t in rc.tasks]  # "I-03@1" keeps its pinned version
    protos = [protocol_class(p).name for p in rc.protocols]
    from silo.agents.scripted import TEAMS

    unknown = [t for t in rc.teams if t != "llm" and t not in TEAMS]
    if unknown:
        raise ValueError(f"unknown team {unknown[0]!r}; known: llm, {', '.join(TEAMS)}")
    if any(n < 1 for n in rc.n_agents):
        raise ValueError(f"N must be >= 1, got {min(rc.n_agents)}")
    # where instances came from is a run fact, not an episode's: ids stay equal to generated ones
    extra = {k: v for k, v in rc.extra.items() if k not in RUN_ONLY_KEYS}
    runtime = {k: v for k, v in rc.extra.items() if k in RUNTIME_KEYS}
    specs, seen = [], set()
    for task in tasks:
        for n in rc.n_agents:
            for proto in protos:
                for team in rc.teams:
                    for variant in rc.prompt_variants if team == "llm" else ["neutral"]:
                        for rep in range(rc.replicates):
                            cfg = EpisodeConfig(
                                task=task, n_agents=n, protocol="none" if n == 1 else proto, team=team,
                                prompt_variant=variant, replicate=rep, suite_seed=rc.seed,
                                max_rounds=rc.max_rounds, action_budget=rc.action_budget,
                                models=resolve_models(rc.models, n) if team == "llm" else None, extra=extra,
                            )
                            spec = EpisodeSpec(cfg, runtime=runtime)
                            if spec.id not in seen:
                                seen.add(spec.id)
                                specs.append(spec)
    return specs


def shard_slice(specs: list[EpisodeSpec], shard: str | None) -> list[EpisodeSpec]:
    """The deterministic slice i/K of a sweep (for batch schedulers without Ray)."""
    if not shard:
        return specs
    try:
        i, k = (int(x) for x in shard.split("/"))
    except ValueError as e:
        raise ValueError(f"--shard must look like i/K (e.g. 0/4), got {shard!r}") from e
    if not 0 <= i < k:
        raise ValueError(f"--shard {shard}: need 0 <= i < K")
    return specs[i::k]


TeamFactory = Callable[[Instance, EpisodeConfig], list[Agent]]


def default_team_factory(inst: Instance, cfg: EpisodeConfig) -> list[Agent]:
    """Scripted teams by name; 'llm' builds LLM agents (imported lazily: litellm is slow to import)."""
    if cfg.team == "llm":  # LLM agents, with scripted partners where cfg.models names them
        from silo.agents.partners import team_for

        return team_for(inst, cfg)
    from silo.agents.scripted import scripted_team

    return scripted_team(cfg.team, inst, cfg.protocol)


def _errored(spec: EpisodeSpec, inst: Instance, error: str) -> Episode:
    return Episode(id=spec.id, config=spec.config, instance=inst, events=[], submissions=[], status="error",
                   error=error[:2000], rounds=0)


async def run_one(spec: EpisodeSpec, factory: TeamFactory = default_team_factory) -> Episode:
    """Run one episode within its wall-clock limit; any failure is recorded as an errored episode. An episode
    with `extra.token_budget` (a compute-matched single agent, silo.matched) has its agents capped at it."""
    from silo.matched import TOKEN_BUDGET, capped

    inst = spec.instance
    runtime_cfg = spec.config.model_copy(update={"extra": {**spec.config.extra, **spec.runtime}})
    try:
        agents = capped(factory(inst, runtime_cfg), spec.config.extra.get(TOKEN_BUDGET))
    except (AgentFailure, OSError, RuntimeError, ValueError, KeyError) as e:
        return _errored(spec, inst, f"{type(e).__name__}: {e}")
    limit = float(spec.runtime.get("episode_timeout_s") or DEFAULT_EPISODE_TIMEOUT_S)
    try:
        return await asyncio.wait_for(run_episode(inst, spec.config, agents), limit)
    except TimeoutError:
        return _errored(spec, inst, f"episode wall-clock limit reached ({limit:g} s; episode_timeout_s)")
    except Exception as e:  # a bug or hostile content in one episode must not sink the sweep
        log.exception("episode %s failed", spec.id)
        return _errored(spec, inst, f"{type(e).__name__}: {e}")


@dataclass
class Budget:
    """Run-level ceilings; None means unlimited. Checked before each episode starts and, for the local
    executor, before every model call (silo.llm charges it per call), so a run overshoots by at most
    the calls in flight: one per worker."""

    max_tokens: int | None = None
    max_cost: float | None = None
    used: Usage = field(default_factory=Usage)

    def add(self, u: Usage) -> None:
        self.charge(u.input_tokens, u.output_tokens, u.cost_usd)

    def charge(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        """Add a call's usage; a negative or non-finite figure adds nothing (a NaN total would never
        reach a ceiling, a negative one would lower it)."""
        self.used.input_tokens += max(0, input_tokens)
        self.used.output_tokens += max(0, output_tokens)
        self.used.cost_usd += cost_usd if cost_usd is not None and math.isfinite(cost_usd) and cost_usd > 0 else 0.0

    def exceeded(self) -> str | None:
        tokens = self.used.input_tokens + self.used.output_tokens
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"token budget reached ({tokens:,} of {self.max_tokens:,} tokens)"
        if self.max_cost is not None and self.used.cost_usd >= self.max_cost:
            return f"cost budget reached (${self.used.cost_usd:.4f} of ${self.max_cost:.4f})"
        return None


@dataclass
class RunOutcome:
    """What a run invocation did."""

    ran: int = 0
    skipped: int = 0
    errors: int = 0
    stopped: str | None = None
    fatal: bool = False  # stopped because an endpoint cannot serve the run (not a ceiling)

    def stop_if_fatal(self, ep: Episode, status: str) -> None:
        """Stop at an episode whose endpoint refused the run (a rejected key, an unknown model, no quota):
        every later episode would fail the same way. Both executors (here and executor_ray) ask this."""
        if status == "error" and ep.error and llm.FATAL_PREFIX in ep.error and not self.stopped:
            self.stopped, self.fatal = ep.error[ep.error.index(llm.FATAL_PREFIX):].splitlines()[0][:500], True


def pending(specs: list[EpisodeSpec], rd: RunDir, force: bool = False) -> tuple[list[EpisodeSpec], int]:
    """Specs still to run: all with force, else those not completed (errored ones are retried)."""
    status = rd.statuses()  # also moves damaged files aside (kept), --force or not
    if force:
        return specs, 0
    todo = [s for s in specs if status.get(s.id) in (None, "error")]
    return todo, len(specs) - len(todo)


def prior_usage(rd: RunDir, ids: Iterable[str]) -> Usage:
    """Usage already spent by this run's episodes on disk (budgets cover the whole run)."""
    u, wanted = Usage(), set(ids)
    for ep in rd.episodes():
        if ep.id in wanted:
            u.input_tokens += ep.usage.input_tokens
            u.output_tokens += ep.usage.output_tokens
            u.cost_usd += ep.usage.cost_usd
    return u


async def run_specs(specs: list[EpisodeSpec], rd: RunDir, factory: TeamFactory = default_team_factory,
                    concurrency: int = 4, budget: Budget | None = None, progress: bool = False) -> RunOutcome:
    """Run specs with bounded concurrency; each episode is written as soon as it finishes."""
    from silo.progress import Progress

    if concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, got {concurrency}")
    budget = budget or Budget()
    out = RunOutcome()
    sem = asyncio.Semaphore(concurrency)
    bar = Progress(len(specs), enabled=progress)

    async def one(spec: EpisodeSpec) -> None:
        async with sem:
            out.stopped = out.stopped or budget.exceeded()
            if out.stopped:
                return
            meter = _Meter(budget)
            token = llm.use_budget(meter)  # this task's own context: its model calls are charged as they happen
            try:
                ep = await run_one(spec, factory)
            finally:
                llm.release_budget(token)
            status = rd.write_episode(ep)
            out.ran += 1
            out.errors += status == "error"
            u, c = ep.usage, meter.charged  # usage the calls did not charge themselves (e.g. logged by a test agent)
            budget.charge(max(0, u.input_tokens - c.input_tokens), max(0, u.output_tokens - c.output_tokens),
                          max(0.0, u.cost_usd - c.cost_usd))
            bar.update(ep)
            if status == "error" and ep.error and llm.BUDGET_PREFIX in ep.error:
                out.stopped = out.stopped or budget.exceeded()
            out.stop_if_fatal(ep, status)

    try:
        await asyncio.gather(*(one(s) for s in specs))
    finally:
        bar.close()
    return out


@dataclass
class _Meter:
    """One episode's view of the run budget: forwards charges and remembers what it charged."""

    budget: Budget
    charged: Usage = field(default_factory=Usage)

    def exceeded(self) -> str | None:
        return self.budget.exceeded()

    def charge(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        self.budget.charge(input_tokens, output_tokens, cost_usd)
        self.charged.input_tokens += input_tokens
        self.charged.output_tokens += output_tokens
        self.charged.cost_usd += cost_usd or 0.0
