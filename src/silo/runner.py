"""Runner: expand a sweep into episode specs and run them into a run directory, resumably.

Completed episodes are skipped on a re-run, errored ones retried; each finished episode is
written atomically, so a kill at any moment loses at most the episodes in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from silo.episode import Agent, AgentFailure, episode_id, run_episode
from silo.protocols import protocol_class
from silo.records import Episode, EpisodeConfig, EpisodeScore, Instance, RunConfig, Usage
from silo.rundir import RunDir, RunDirError, atomic_write
from silo.scoring import score_episode
from silo.tasks import get_task

__all__ = ["EpisodeSpec", "RunDir", "RunDirError", "atomic_write", "expand", "run_specs", "score_run"]


RUN_ONLY_KEYS = {"instances_source"}  # RunConfig.extra keys that do not belong in an episode's config


@dataclass(frozen=True)
class EpisodeSpec:
    """One cell of a sweep: the config of an episode; its instance is generated on demand."""

    config: EpisodeConfig
    loaded: Instance | None = None  # an instance loaded from a published dataset, used as is

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
    """Per-agent models: plain entries are cycled over agent ids; 'K=model' pins agent K."""
    if not models:
        return None
    pinned, cycle = {}, []
    for m in models:
        head, sep, rest = m.partition("=")
        if sep and head.strip().isdigit():
            pinned[int(head)] = rest.strip()
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
            specs.append(EpisodeSpec(cfg, loaded=inst))
    return specs


def expand(rc: RunConfig) -> list[EpisodeSpec]:
    """Every episode of a sweep in a stable order; N = 1 runs once, with no protocol."""
    tasks = [get_task(t).id for t in rc.tasks]
    protos = [protocol_class(p).name for p in rc.protocols]
    from silo.agents.scripted import TEAMS

    unknown = [t for t in rc.teams if t != "llm" and t not in TEAMS]
    if unknown:
        raise ValueError(f"unknown team {unknown[0]!r}; known: llm, {', '.join(TEAMS)}")
    if any(n < 1 for n in rc.n_agents):
        raise ValueError(f"N must be >= 1, got {min(rc.n_agents)}")
    # where instances came from is a run fact, not an episode's: ids stay equal to generated ones
    extra = {k: v for k, v in rc.extra.items() if k not in RUN_ONLY_KEYS}
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
                            spec = EpisodeSpec(cfg)
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
    if cfg.team == "llm":
        from silo.agents.llm_agent import llm_team

        return llm_team(inst, cfg)
    from silo.agents.scripted import scripted_team

    return scripted_team(cfg.team, inst, cfg.protocol)


async def run_one(spec: EpisodeSpec, factory: TeamFactory = default_team_factory) -> Episode:
    """Run one episode; a failure to even build the team is recorded as an errored episode."""
    inst = spec.instance
    try:
        agents = factory(inst, spec.config)
    except (AgentFailure, OSError, RuntimeError, ValueError, KeyError) as e:
        return Episode(id=spec.id, config=spec.config, instance=inst, events=[], submissions=[],
                       status="error", error=f"{type(e).__name__}: {e}", rounds=0)
    return await run_episode(inst, spec.config, agents)


@dataclass
class Budget:
    """Run-level ceilings; None means unlimited. Checked before each episode starts."""

    max_tokens: int | None = None
    max_cost: float | None = None
    used: Usage = field(default_factory=Usage)

    def add(self, u: Usage) -> None:
        self.used.input_tokens += u.input_tokens
        self.used.output_tokens += u.output_tokens
        self.used.cost_usd += u.cost_usd

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


def pending(specs: list[EpisodeSpec], rd: RunDir, force: bool = False) -> tuple[list[EpisodeSpec], int]:
    """Specs still to run: all with force, else those not completed (errored ones are retried)."""
    if force:
        return specs, 0
    status = rd.statuses()
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

    budget = budget or Budget()
    out = RunOutcome()
    sem = asyncio.Semaphore(concurrency)
    bar = Progress(len(specs), enabled=progress)

    async def one(spec: EpisodeSpec) -> None:
        async with sem:
            out.stopped = out.stopped or budget.exceeded()
            if out.stopped:
                return
            ep = await run_one(spec, factory)
            rd.write_episode(ep)
            out.ran += 1
            out.errors += ep.status == "error"
            budget.add(ep.usage)
            bar.update(ep)

    try:
        await asyncio.gather(*(one(s) for s in specs))
    finally:
        bar.close()
    return out


def score_run(rd: RunDir) -> list[EpisodeScore]:
    """Re-score every episode of a run directory (pure, offline) and write scores.jsonl."""
    scores = sorted((score_episode(ep) for ep in rd.episodes()), key=lambda s: s.episode_id)
    rd.write_scores(scores)
    return scores
