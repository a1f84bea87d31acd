"""What a run ends with: results.json (lm-eval's results file, inspect's log header), the distinct error
causes of its errored episodes, and whether they are too many (`--fail-on-error`).

results.json, rewritten at the end of every `silo run` / `silo resume`:
    schema_version, created, config (the resolved RunConfig), suite, shard,
    versions {silo, tasks {id: version}, prompt, scorer}, git (commit of the source tree),
    episodes {total, complete, max_rounds, error}, errors [{cause, count}],
    aggregates [one row per (level, task, protocol, n_agents, team, models): S, P, H, gap with
    95% intervals (_lo, _hi), outcome shares, episodes, errors]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter

from silo import __version__
from silo.records import EpisodeScore, RunConfig
from silo.rundir import RunDir, atomic_write, git_hash

RESULTS_SCHEMA_VERSION = 1


def error_causes(scores: list[EpisodeScore]) -> list[tuple[str, int]]:
    """Distinct causes of errored episodes with their counts, most frequent first."""
    counts = Counter(cause(s.error or "unknown error") for s in scores if s.status == "error")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def cause(error: str) -> str:
    """The cause of an episode error, without what varies between episodes (agent ids, attempt counts)."""
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    first = re.sub(r"after \d+ attempt\(s\)", "after retries", first)
    first = re.sub(r"\bagent \d+\b", "agent K", first)
    return first[:300]


def parse_threshold(value: str | None) -> float | None:
    """--fail-on-error: None (never fail), a fraction in [0, 1) of episodes, or a count >= 1 of episodes."""
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"--fail-on-error takes a count (e.g. 5) or a fraction (e.g. 0.1), got {value!r}") from None
    if math.isnan(x) or x < 0:
        raise ValueError(f"--fail-on-error must be >= 0, got {value!r}")
    return x


def too_many_errors(errors: int, total: int, threshold: float | None) -> bool:
    """inspect-style: 0 fails on any error, a fraction fails above that share, a count fails above it."""
    if threshold is None or errors == 0:
        return False
    if threshold == 0:
        return True
    if threshold < 1:
        return errors / max(total, 1) > threshold
    return errors > threshold


def versions(scores: list[EpisodeScore], rd: RunDir) -> dict:
    """Versions of silo, of each task that ran, of the prompts and of the scorer."""
    from silo import scoring
    from silo.provenance import run_provenance

    prov = run_provenance(rd.path)
    tasks = {s.instance_id.split("-v")[0]: int(s.instance_id.split("-v")[1].split("-")[0])
             for s in scores if "-v" in s.instance_id}
    return {"silo": __version__, "tasks": dict(sorted(tasks.items())), "prompt": prov.get("prompt_version"),
            "scorer": getattr(scoring, "SCORER_VERSION", None)}


def write_results(rd: RunDir, rc: RunConfig, scores: list[EpisodeScore], shard: str | None = None) -> dict:
    """Write RUN/results.json and return it."""
    from silo.report import summary

    status = Counter(s.status for s in scores)
    rows = summary(scores).to_dicts() if scores else []
    doc = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": rc.model_dump(mode="json"), "suite": rc.suite, "shard": shard,
        "versions": versions(scores, rd), "git": git_hash(),
        "episodes": {"total": len(scores), **{k: status.get(k, 0) for k in ("complete", "max_rounds", "error")}},
        "errors": [{"cause": c, "count": n} for c, n in error_causes(scores)],
        "aggregates": [{k: _clean(v) for k, v in r.items()} for r in rows],
    }
    atomic_write(rd.path / "results.json", json.dumps(doc, indent=1))
    return doc


def _clean(v):
    """JSON has no NaN: undefined estimates are null."""
    return None if isinstance(v, float) and math.isnan(v) else v
