"""Summarise a compute-matched single-agent run (docs/probes.md):
python scripts/matched.py TEAM_RUN MATCHED_RUN [--json FILE] [--command TEXT ...]

Prints the equal-budget table (silo.matched.equal_budget); with --json, stores it under the key "matched"
of FILE (other keys of an existing file are kept, e.g. data/probes.json)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from silo.matched import equal_budget, markdown, pair_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("team")
    ap.add_argument("matched")
    ap.add_argument("--json", type=Path, help="store the numbers under 'matched' in this file")
    ap.add_argument("--command", action="append", default=[], help="a command that made the runs (kept)")
    ap.add_argument("--note", default="", help="a sentence kept with the numbers")
    a = ap.parse_args()
    rows = pair_rows(a.team, a.matched)
    table = equal_budget(rows)
    print(markdown(table))
    if a.json:
        doc = json.loads(a.json.read_text()) if a.json.exists() else {}
        doc["matched"] = {"runs": {"team": a.team, "matched": a.matched}, "commands": a.command, "note": a.note,
                          "equal_budget": _nulls(table), "pairs": rows}
        a.json.write_text(json.dumps(doc, indent=1) + "\n")


def _nulls(rows: list[dict]) -> list[dict]:
    """NaN (no interval, or no baseline) as null: the file stays valid JSON."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


if __name__ == "__main__":
    main()
