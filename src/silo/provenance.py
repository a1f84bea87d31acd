"""What produced a run's numbers: suite, limits, model settings, versions, dates and git commit.

`run_provenance` reads one run directory (config.json, the episode files' names and times, the first
LLM episode's logged model calls); `differences` names the fields in which compared runs differ, so a
report can warn before it puts a 4-round run beside a 100-round run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from silo import episode_io

# the model settings recorded in RunConfig.extra / EpisodeConfig.extra that change what a model does
SETTINGS = ("temperature", "max_tokens", "action_mode", "context_window", "prefill", "api_base")
# fields compared across runs (a difference is a visible warning in the report)
COMPARED = ("suite", "max_rounds", "action_budget", "settings", "prompt_variants", "silo_version", "task_versions",
            "prompt_version", "scorer_version")
# facts only LLM runs have: a scripted run (None) differs from no one in them
LLM_ONLY = ("settings", "prompt_version", "prompt_variants")


def _date(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else None


def _task_versions(names: list[str]) -> dict[str, int]:
    """Task id -> generator version from episode file names ('<task>-v<version>-n<N>-...')."""
    out: dict[str, int] = {}
    for name in names:
        parts = name.split("-")
        for i, p in enumerate(parts[1:], 1):
            if p.startswith("v") and p[1:].isdigit():
                out["-".join(parts[:i])] = int(p[1:])
                break
    return dict(sorted(out.items()))


def _prompt_version(files: list[Path]) -> int | None:
    """PROMPT_VERSION logged with the first model call of the run's first LLM episode (None if scripted)."""
    for f in files:
        if "-llm-" not in f.name:
            continue
        for e in episode_io.events(f):
            if e.kind == "model_call" and "prompt_version" in e.data:
                return e.data["prompt_version"]
    return None


def _scorer_version(path: Path) -> int | None:
    """The scorer version recorded in scores.jsonl, else the installed scorer's (None if neither exists)."""
    f = path / "scores.jsonl"
    if f.is_file():
        with f.open() as fh:
            first = fh.readline()
        if first.strip():
            v = json.loads(first).get("scorer_version")
            if v is not None:
                return v
    from silo import scoring

    return getattr(scoring, "SCORER_VERSION", None)


def run_provenance(path: str | os.PathLike) -> dict:
    """Provenance of one run directory (missing facts are None)."""
    p = Path(path)
    meta = json.loads((p / "config.json").read_text()) if (p / "config.json").is_file() else {}
    rc = meta.get("run", {})
    files = episode_io.files(p / "episodes")
    llm = "llm" in (rc.get("teams") or [])
    extra = (rc.get("extra") or {}) if llm else {}  # scripted teams use no model and no model settings
    times = [f.stat().st_mtime for f in files]
    versions = _task_versions([f.name for f in files])
    return {
        "run": p.name, "suite": rc.get("suite"), "max_rounds": rc.get("max_rounds"),
        "action_budget": rc.get("action_budget"), "models": ",".join(rc.get("models") or []) or None if llm else None,
        "settings": ", ".join(f"{k}={extra[k]}" for k in SETTINGS if k in extra) or None,
        "teams": ",".join(rc.get("teams") or []) or None,
        "prompt_variants": ",".join(rc.get("prompt_variants") or []) or None if llm else None,
        "replicates": rc.get("replicates"), "seed": rc.get("seed"),
        "silo_version": meta.get("silo_version"), "git": (meta.get("git") or "")[:10] or None,
        "task_versions": ", ".join(f"{t} v{v}" for t, v in versions.items()) or None, "_versions": versions,
        "prompt_version": _prompt_version(files), "scorer_version": _scorer_version(p),
        "started": _date((p / "config.json").stat().st_mtime if (p / "config.json").is_file() else None),
        "finished": _date(max(times) if times else None), "episodes": len(files),
    }


def differences(rows: list[dict]) -> list[str]:
    """Compared fields whose values differ between runs, each as 'field: a (run1) vs b (run2)'."""
    out = []
    seen: dict[str, dict[int, list[str]]] = {}
    for r in rows:
        for t, v in r.get("_versions", {}).items():
            seen.setdefault(t, {}).setdefault(v, []).append(r["run"])
    clash = [f"{t} " + " vs ".join(f"v{v} ({', '.join(runs)})" for v, runs in vs.items())
             for t, vs in seen.items() if len(vs) > 1]
    if clash:
        out.append("task_versions: " + "; ".join(clash))
    for k in COMPARED:
        if k == "task_versions":
            continue
        vals: dict[str, list[str]] = {}
        for r in rows:
            if k in LLM_ONLY and r.get(k) is None:
                continue
            vals.setdefault(str(r.get(k)), []).append(r["run"])
        if len(vals) > 1:
            out.append(f"{k}: " + " vs ".join(f"{v} ({', '.join(runs)})" for v, runs in vals.items()))
    return out
