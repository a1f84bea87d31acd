"""Ray executor: workers run whole episodes; the driver writes every record (same files as local).

Optional: `pip install silo-bench[ray]`. Without --address a local Ray instance is started.
Run budgets (--max-total-tokens, --max-cost) live in one Ray actor that every worker's model calls
check before and charge after each call, as the local executor does in-process: a run overshoots by
at most the calls in flight, not by whole episodes.
An endpoint that cannot serve the run (a rejected key, an unknown model, an exhausted quota:
llm.FATAL_PREFIX in an episode's error) stops it as it stops a local run: no episode is submitted
after it, those in flight finish and are written, and RunOutcome.fatal makes `silo run` exit 4. The worker
that learns it tells the actor, and every later call of the run to that endpoint, in any worker, fails at once
without a request (llm_retry.shared_fatal), as calls sharing one event loop do by the endpoint's breaker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from silo import llm
from silo.episode import run_sync
from silo.records import Episode, EpisodeConfig, Instance, Usage
from silo.rundir import RunDir
from silo.runner import Budget, EpisodeSpec, RunOutcome, run_one


class BudgetKeeper:
    """The run budget shared by every worker (held by one Ray actor)."""

    def __init__(self, max_tokens: int | None, max_cost: float | None, used: dict):
        self.budget = Budget(max_tokens, max_cost, Usage.model_validate(used))
        self.fatal: dict[str, str] = {}  # endpoint -> why no call of the run can succeed there (the first report)

    def fatal_for(self, endpoint: str) -> str | None:
        return self.fatal.get(endpoint)

    def note_fatal(self, endpoint: str, why: str) -> None:
        self.fatal.setdefault(endpoint, why)

    def exceeded(self) -> str | None:
        return self.budget.exceeded()

    def charge(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        self.budget.charge(input_tokens, output_tokens, cost_usd)

    def used(self) -> dict:
        return self.budget.used.model_dump()


@dataclass
class _RemoteMeter:
    """A worker's view of the shared budget: each model call asks the actor, and charges it."""

    keeper: object
    charged: Usage = field(default_factory=Usage)
    fatal: dict[str, str] = field(default_factory=dict)  # what the actor said, kept: it never changes once said

    def exceeded(self) -> str | None:
        import ray

        return ray.get(self.keeper.exceeded.remote())

    def fatal_for(self, endpoint: str) -> str | None:
        """Why another worker found `endpoint` unable to serve the run (llm_retry.shared_fatal), or None."""
        import ray

        if endpoint not in self.fatal and (why := ray.get(self.keeper.fatal_for.remote(endpoint))):
            self.fatal[endpoint] = why
        return self.fatal.get(endpoint)

    def note_fatal(self, endpoint: str, why: str) -> None:
        import ray

        self.fatal.setdefault(endpoint, why)
        ray.get(self.keeper.note_fatal.remote(endpoint, why))  # (waited for: the next episode must see it)

    def charge(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        import ray

        ray.get(self.keeper.charge.remote(input_tokens, output_tokens, cost_usd))
        self.charged.input_tokens += input_tokens
        self.charged.output_tokens += output_tokens
        self.charged.cost_usd += cost_usd or 0.0


def _work(config_json: str, instance_json: str | None, runtime_json: str = "{}", keeper=None) -> str:
    """Run one episode in a worker; returns the Episode and what its calls charged, as JSON (plain
    strings cross the wire)."""
    loaded = Instance.model_validate_json(instance_json) if instance_json else None
    spec = EpisodeSpec(EpisodeConfig.model_validate_json(config_json), loaded, json.loads(runtime_json))
    meter = _RemoteMeter(keeper) if keeper is not None else None
    token = llm.use_budget(meter) if meter is not None else None
    try:
        ep = run_sync(run_one(spec))
    finally:
        if token is not None:
            llm.release_budget(token)
    charged = meter.charged.model_dump_json() if meter is not None else "null"
    return f'{{"episode": {ep.model_dump_json()}, "charged": {charged}}}'


def _init(address: str | None, num_cpus: int | None):
    try:
        import ray
    except ImportError as e:
        raise RuntimeError("the ray executor needs Ray: pip install 'silo-bench[ray]'") from e
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": num_cpus}
        ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=False, **kw)
    return ray


def run_ray(specs: list[EpisodeSpec], rd: RunDir, address: str | None = None, num_cpus: int | None = None,
            budget: Budget | None = None, progress: bool = False, max_in_flight: int | None = None) -> RunOutcome:
    """Spread episodes over a Ray cluster, keeping a bounded number in flight."""
    from silo.progress import Progress

    ray = _init(address, num_cpus or (None if address else 2))
    work = ray.remote(_work)
    budget = budget or Budget()
    keeper = ray.remote(BudgetKeeper).remote(budget.max_tokens, budget.max_cost, budget.used.model_dump())
    limit = max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 2)))
    out, bar = RunOutcome(), Progress(len(specs), enabled=progress)
    queue, in_flight = list(specs), []
    try:
        while queue or in_flight:
            out.stopped = out.stopped or ray.get(keeper.exceeded.remote())
            while queue and len(in_flight) < limit and not out.stopped:
                spec = queue.pop(0)
                loaded = spec.loaded.model_dump_json() if spec.loaded else None
                in_flight.append(work.remote(spec.config.model_dump_json(), loaded, json.dumps(spec.runtime),
                                             keeper))
            if not in_flight:
                break
            done, in_flight = ray.wait(in_flight, num_returns=1)
            ep, charged = _unpack(ray.get(done[0]))
            status = rd.write_episode(ep)
            out.ran += 1
            out.errors += status == "error"
            # usage the calls did not charge themselves (e.g. logged by a scripted agent)
            u = ep.usage
            ray.get(keeper.charge.remote(max(0, u.input_tokens - charged.input_tokens),
                                         max(0, u.output_tokens - charged.output_tokens),
                                         max(0.0, u.cost_usd - charged.cost_usd)))
            bar.update(ep)
            out.stop_if_fatal(ep, status)
    finally:
        bar.close()
        budget.used = Usage.model_validate(ray.get(keeper.used.remote()))
    return out


def _unpack(blob: str) -> tuple[Episode, Usage]:
    d = json.loads(blob)
    return Episode.model_validate(d["episode"]), Usage.model_validate(d["charged"] or {})


def shutdown() -> None:
    """Stop the Ray instance this process started (tests)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
