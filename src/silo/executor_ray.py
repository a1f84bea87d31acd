"""Ray executor: workers run whole episodes; the driver writes every record (same files as local).

Optional: `pip install silo-bench[ray]`. Without --address a local Ray instance is started.
"""

from __future__ import annotations

import json

from silo.episode import run_sync
from silo.records import Episode, EpisodeConfig, Instance
from silo.rundir import RunDir
from silo.runner import Budget, EpisodeSpec, RunOutcome, run_one


def _work(config_json: str, instance_json: str | None, runtime_json: str = "{}") -> str:
    """Run one episode in a worker; returns the Episode as JSON (plain strings cross the wire)."""
    loaded = Instance.model_validate_json(instance_json) if instance_json else None
    spec = EpisodeSpec(EpisodeConfig.model_validate_json(config_json), loaded, json.loads(runtime_json))
    return run_sync(run_one(spec)).model_dump_json()


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
    limit = max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 2)))
    out, bar = RunOutcome(), Progress(len(specs), enabled=progress)
    queue, in_flight = list(specs), []
    try:
        while queue or in_flight:
            out.stopped = out.stopped or budget.exceeded()
            while queue and len(in_flight) < limit and not out.stopped:
                spec = queue.pop(0)
                loaded = spec.loaded.model_dump_json() if spec.loaded else None
                in_flight.append(work.remote(spec.config.model_dump_json(), loaded, json.dumps(spec.runtime)))
            if not in_flight:
                break
            done, in_flight = ray.wait(in_flight, num_returns=1)
            ep = Episode.model_validate_json(ray.get(done[0]))
            status = rd.write_episode(ep)
            out.ran += 1
            out.errors += status == "error"
            budget.add(ep.usage)
            bar.update(ep)
    finally:
        bar.close()
    return out


def shutdown() -> None:
    """Stop the Ray instance this process started (tests)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
