"""Suite files (tasks/*.toml, bundled as silo/suites): declarative sweeps, validated, resolved to a RunConfig."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from silo import resources
from silo.protocols import protocol_class
from silo.records import RunConfig
from silo.tasks import all_tasks, get_task


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the offending key or value."""


class SuiteFile(BaseModel):
    """The [suite] table of a suite file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    tasks: list[str] | str = "all"
    n_agents: list[int]
    protocols: list[str] = ["p2p", "broadcast", "sfs"]
    teams: list[str] = ["llm"]
    prompt_variants: list[str] = ["neutral"]
    replicates: int = 1
    seed: int = 0
    max_rounds: int = 100
    action_budget: int = 10
    baseline: bool = False
    models: list[str] | None = None
    options: dict[str, Any] = {}


def find_suite(name_or_path: str):
    """A suite path, or a name of a suite bundled in the package (silo/suites, the repo's tasks/)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise SuiteError(f"suite file not found: {p}")
        if not p.is_file():
            raise SuiteError(f"suite {p} is not a file")
        return p
    bundled = resources.suites()
    if name_or_path in bundled:
        return bundled[name_or_path]
    raise SuiteError(f"unknown suite {name_or_path!r}; known suites: {', '.join(bundled) or 'none'}")


def load_suite(name_or_path: str) -> RunConfig:
    """Parse and validate a suite file into a RunConfig."""
    path = find_suite(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{path}: invalid TOML: {e}") from e
    extra_tables = sorted(set(raw) - {"suite"})
    if extra_tables or "suite" not in raw:
        raise SuiteError(f"{path}: expected one [suite] table, found {sorted(raw) or 'nothing'}")
    try:
        sf = SuiteFile.model_validate(raw["suite"])
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise SuiteError(f"{path}: {msg}: {loc}") from e
    return _resolve(sf, path)


def _resolve(sf: SuiteFile, path: Path) -> RunConfig:
    tasks = [t.id for t in all_tasks()] if sf.tasks == "all" else list(sf.tasks)
    for t in tasks:
        try:
            get_task(t)
        except KeyError as e:
            raise SuiteError(f"{path}: {e}") from e
    for p in sf.protocols:
        try:
            protocol_class(p)
        except KeyError as e:
            raise SuiteError(f"{path}: {e}") from e
    ns = sorted(set(sf.n_agents) | ({1} if sf.baseline else set()))
    if any(n < 1 for n in ns):
        raise SuiteError(f"{path}: n_agents must be >= 1")
    return RunConfig(
        suite=sf.name, tasks=[get_task(t).key for t in tasks], n_agents=ns, protocols=sf.protocols,
        teams=sf.teams, prompt_variants=sf.prompt_variants, replicates=sf.replicates, seed=sf.seed,
        max_rounds=sf.max_rounds, action_budget=sf.action_budget, models=sf.models, extra=sf.options,
    )


def episode_specs(rc: RunConfig):
    """Episode specs of a run config: generated, or over instances loaded from a dataset."""
    from silo.runner import expand, expand_loaded

    if rc.extra.get("matched_to"):  # compute-matched single agents of a team run (silo.matched)
        from silo.matched import matched_specs

        return limit_per_task(matched_specs(rc), rc.extra.get("limit"))
    source = rc.extra.get("instances_source")
    if not source:
        return limit_per_task(expand(rc), rc.extra.get("limit"))
    from silo.publish import load_instances

    return limit_per_task(expand_loaded(rc, load_instances(source)), rc.extra.get("limit"))


def limit_per_task(specs, limit: int | None):
    """The first `limit` episodes of each task, in sweep order (all of them without a limit)."""
    if not limit:
        return specs
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        seen[s.config.task] = seen.get(s.config.task, 0) + 1
        if seen[s.config.task] <= limit:
            out.append(s)
    return out
