"""Compare two scores.jsonl files row by row: are the scores of two runs (or two scorers) identical?

    .venv/bin/python scripts/compare_scores.py OLD NEW [--ignore FIELD ...] [--show 20]

OLD and NEW are run directories or scores.jsonl files. Rows are matched by episode_id; every field
is compared exactly (floats too: "identical" means identical), recursing into `usage` and each agent
row, except timing fields (`usage.latency_s` by default) and any field named with --ignore (a dotted
path such as `usage.cost_usd` or `agents.role`; `agents.X` ignores X in every agent row). Prints a
one-line verdict and up to --show differences; exit code 0 if identical, 1 if any row differs, is
missing or is extra, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

DEFAULT_IGNORE = ("usage.latency_s",)


def load(path: Path) -> dict[str, dict]:
    """episode_id -> score row of a run directory or a scores.jsonl file."""
    f = path / "scores.jsonl" if path.is_dir() else path
    rows: dict[str, dict] = {}
    with f.open() as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                rows[row["episode_id"]] = row
    return rows


def diff(a, b, ignore: set[str], where: str = "") -> list[str]:
    """Dotted paths (with old -> new values) where a and b differ; list items are matched by position."""
    if where in ignore:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            p = f"{where}.{k}" if where else k
            if p in ignore:
                continue
            if k not in a or k not in b:
                was, now = (repr(x[k]) if k in x else "missing" for x in (a, b))
                out.append(f"{p}: {was} -> {now}")
            else:
                out += diff(a[k], b[k], ignore, p)
        return out
    if isinstance(a, list) and isinstance(b, list) and where == "agents":
        if len(a) != len(b):
            return [f"agents: {len(a)} rows -> {len(b)} rows"]
        return [d for x, y in zip(a, b, strict=True) for d in diff(x, y, ignore, "agents")]
    if type(a) is not type(b) or a != b:
        return [f"{where}: {a!r} -> {b!r}"]
    return []


def compare(old: dict[str, dict], new: dict[str, dict], ignore: set[str]) -> tuple[list[str], Counter]:
    """Human-readable differences, and how often each field differs."""
    lines: list[str] = []
    fields: Counter = Counter()
    for eid in sorted(set(old) - set(new)):
        lines.append(f"{eid}: only in OLD")
    for eid in sorted(set(new) - set(old)):
        lines.append(f"{eid}: only in NEW")
    for eid in sorted(set(old) & set(new)):
        for d in diff(old[eid], new[eid], ignore):
            lines.append(f"{eid}: {d}")
            fields[d.split(":", 1)[0]] += 1
    return lines, fields


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--ignore", action="append", default=[], help="dotted field to skip (repeatable)")
    ap.add_argument("--show", type=int, default=20, help="differences to print (default 20)")
    a = ap.parse_args(argv)
    try:
        old, new = load(a.old), load(a.new)
    except (OSError, json.JSONDecodeError, KeyError) as e:
        print(f"compare_scores: cannot read input: {e}", file=sys.stderr)
        return 2
    ignore = set(DEFAULT_IGNORE) | set(a.ignore)
    lines, fields = compare(old, new, ignore)
    common = len(set(old) & set(new))
    if not lines:
        print(f"identical: {common} rows (ignoring {', '.join(sorted(ignore))})")
        return 0
    print(f"DIFFERENT: {len(lines)} differences over {len(old)} OLD / {len(new)} NEW rows ({common} in both)")
    for f, c in fields.most_common():
        print(f"  {f}: differs in {c} rows")
    for line in lines[:a.show]:
        print(f"  {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
