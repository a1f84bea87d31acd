"""The public Python API: run a sweep, get scores as a polars DataFrame; the record types and extension points.

    import silo.api as silo
    df = silo.evaluate("quick", teams=["oracle"], out="runs/q")         # a bundled suite, overridden
    df = silo.evaluate(tasks=["I-01"], n_agents=[2, 5], teams=["gossip"])  # or a sweep from fields
    silo.aggregate(df, ["task", "n_agents"])                             # S, P, H, gap with intervals

`evaluate` does what `silo run` does (preflight, resume into `out`, scoring, results.json) and returns
one row per episode (columns in docs/api.md). Everything else here is re-exported from the modules
that define it; those names are the stable surface (docs/api.md), the rest of silo is internal.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from silo.agents.scripted import register_team
from silo.analysis import build_tables, load_run
from silo.metrics import aggregate
from silo.protocols import Protocol, register_protocol
from silo.records import AgentScore, Episode, EpisodeConfig, EpisodeScore, Event, Instance, RunConfig
from silo.tasks import all_tasks, get_task, register
from silo.tasks.base import TaskSpec

__all__ = ["AgentScore", "Episode", "EpisodeConfig", "EpisodeScore", "Event", "Instance", "Protocol", "RunConfig",
           "TaskSpec", "aggregate", "all_tasks", "evaluate", "get_task", "load_run", "register", "register_protocol",
           "register_team", "sweep"]


def sweep(suite: str | None = None, **fields: Any) -> RunConfig:
    """A RunConfig: a bundled suite's name or a suite file (optional), with RunConfig fields overriding it.

    `tasks="all"` means every registered task; `options={...}` merges into the suite's options (model
    settings such as api_base, api_key_env, temperature, model_args, per_model)."""
    from silo.suite import load_suite

    base = load_suite(suite).model_dump() if suite else {"tasks": ["I-01"], "n_agents": [2], "protocols": ["p2p"],
                                                         "teams": ["oracle"]}
    if fields.get("tasks") == "all":
        fields["tasks"] = [t.id for t in all_tasks()]
    extra = {**base.get("extra", {}), **fields.pop("options", {}), **fields.pop("extra", {})}
    return RunConfig(**{**base, **fields, "extra": extra})


def evaluate(config: RunConfig | str | None = None, *, out: str | Path | None = None, concurrency: int = 4,
             preflight: bool = True, progress: bool = False, **fields: Any) -> pl.DataFrame:
    """Run a sweep into `out` (a temporary directory if None; re-running into it resumes) and return its
    scores, one row per episode (errored episodes included, with null scores and their `error`)."""
    from silo.preflight import check_run
    from silo.results import write_results
    from silo.runner import RunDir, pending, run_specs, score_run
    from silo.suite import episode_specs

    rc = config if isinstance(config, RunConfig) else sweep(config, **fields)
    if isinstance(config, RunConfig) and fields:
        rc = rc.model_copy(update=fields)
    if preflight:
        check_run(rc)
    rd = RunDir(out or tempfile.mkdtemp(prefix="silo-"))
    rd.init(rc)
    specs = episode_specs(rc)
    todo, _ = pending(specs, rd)
    asyncio.run(run_specs(todo, rd, concurrency=concurrency, progress=progress))
    scores = score_run(rd)
    write_results(rd, rc, scores)
    return build_tables(scores, run=rd.path.name).episodes.with_columns(pl.lit(str(rd.path)).alias("run_dir"))
