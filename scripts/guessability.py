"""Compute the guessability table of every task version: data/guessability.json and docs/guessability.md.

    .venv/bin/python scripts/guessability.py [--instances 100] [--jobs 2]
    .venv/bin/python scripts/guessability.py --only II-14,II-14@2   # recompute changed task versions only

Every cell is N in {2, 5, 10, 20, 50, 100} x (at least) 100 fresh instances (400 at N <= 10), every
strategy of silo.guess; defaults are the "after" table, pinned older versions the "before" one.
With --only, the other rows are kept from data/guessability.json: instances come from fixed suite seeds,
so an unchanged task version gives the same row.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from silo.guess import BUDGET, DATA, GRID, every_version, task_rows
from silo.tasks import get_task

DOC = Path(__file__).resolve().parents[1] / "docs" / "guessability.md"

INTRO = f"""# Guessability of the tasks

Can an agent answer without hearing from anyone? For every task version, the success rate of the best
trivial strategy at every N of the grid, on fresh instances (suite seeds 10000+, 400 instances per cell
at N <= 10, 100 at N >= 20). Strategies (silo/guess.py), each using only what one agent has before the
first message: a constant of the answer's type (0, 1, -1, true, false, [], {{}}, or any integer stated in
the task text); the most common answer and the rounded expected answer, both learned on the other half
of the instances (cross-fitted); the answer computed from the agent's own shard alone (for segmented
tasks, its own segment computed locally: the `premature` team's answer); that answer times N. Agents
whose answer needs no other shard are left out.

**Budget**: at every N, the best strategy is right at most {BUDGET:.0%} of the time, or at most the chance
inherent to the task, stated in its docstring (`inherent_chance`) with why the task is kept. Where a rate
equals a stated chance by design, the check allows two standard errors of sampling; under the flat
{BUDGET:.0%} budget it allows none. `tests/test_guessability.py` recomputes the table for the defaults on
fewer instances and fails if one is over budget.

The reference generators (version 1 of every task, as the paper describes them) stay runnable: pin a
task as `I-03@1`, or run the `silo-bench-reference` suite. Episodes record `task_version`; `silo report`
flags a pinned task that is over budget (`silo.guess.guessable`).

Regenerate: `.venv/bin/python scripts/guessability.py` (last run: {{minutes}} minutes wall clock, 3 CPU-minutes,
on 2 cores shared with other jobs; generating N = 100 instances of all 30 tasks x 100 seeds takes 16 CPU-seconds).
"""

CHANGES = {
    "I-01": "values in [-1000N, 1000N] (v1: [-1000, 1000], whose bound 1000 is the maximum once N is large)",
    "I-02": 'a per-shard "apple" rate, uniform in [0, 0.8] (v1: every word uniform over 7 fruits)',
    "I-03": "each shard's leader is the winner 1 time in 4 (v1: every 2nd vote is the winner's)",
    "I-04": "one ERROR line with probability N/(2N-1) (v1: a coin per shard; v2: probability 0.5)",
    "I-05": "a per-shard share of values inside the range, uniform in [0.1, 0.9]",
    "I-08": "each agent draws from its own random subset of range(15N)",
    "II-13": "a planted palindrome of random length 10..40 (v1: racecar; v2: 5..15)",
    "II-14": ("10 steps, so a halo is a neighbour's whole 10-cell segment (v1, v2: 5 steps; a 5-cell halo is inside "
              "another 0/1 row by chance about 19% of the time), no two segments alike (v3); a neighbour's border "
              "cells redrawn while an agent's zero-padded run would be right (v2, v3)"),
    "II-15": "K patterns, K uniform in 0..L/3, unevenly over the pieces and across borders (v1: 2 per shard)",
    "II-19": "values in [1, 10N] (v1: [1, 50], all covered from N = 20)",
    "III-22": "each agent draws from its own random window of [1, 1000]",
    "III-23": "a planted number of components, uniform in 1..8N (v1: 20N random edges, one giant component)",
    "III-26": "each agent draws from its own random subset of range(15N) (as I-08)",
}


def _row(key: str, instances: int) -> dict:
    return task_rows(get_task(key), GRID, instances)


def _cell(c: dict) -> str:
    text = f"{c['rate']:.0%} {c['best']}"
    return text if c["within"] else f"**{text}**"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| task | name | v | " + " | ".join(f"N={n}" for n in GRID) + " | budget (if not 10%) | within |",
             "|---|---|---|" + "---|" * len(GRID) + "---|---|"]
    for r in rows:
        t = get_task(r["key"])
        chance = ", ".join(f"{n}: {t.inherent_chance(n):.0%}" for n in GRID if t.inherent_chance(n) > BUDGET)
        lines.append(f"| {r['task']} | {r['name']} | {r['version']} | " + " | ".join(_cell(r["cells"][str(n)])
                     for n in GRID) + f" | {chance} | {'yes' if r['within'] else '**no**'} |")
    return lines


def write_doc(rows: list[dict], minutes: float) -> None:
    after = [r for r in rows if r["default"]]
    before = [r for r in rows if not r["default"]]
    lines = [INTRO.replace("{minutes}", f"{minutes:.0f}"), "## After: the default versions", ""]
    lines += _table(after)
    lines += ["", "Cells: the best strategy's rate and its name; **bold** is over budget.", "",
              "## Before: the older versions (the reference generators and earlier fixes)", ""]
    lines += _table(before)
    lines += ["", "## What changed, and why", "",
              "Each task's docstring states its deviation from the reference and the measured reason; in short:", ""]
    for tid, text in CHANGES.items():
        lines.append(f"- {tid} v{get_task(tid).version}: {text}.")
    lines += ["", "Stated inherent chances (the budget where it exceeds 10%): I-01 1/N (the agent holding the maximum "
              "is right alone); I-03 1/4 + 1/(N+1) (any fixed candidate wins 1 time in 4, and a plurality over N "
              "shards is partly visible in each); I-04 N/(2N-1) (a yes/no answer whose evidence is one line in one "
              "shard); II-15 1/7 at N = 2 (two 20-character pieces, each completing at most 6 matches, count alike "
              "about 1 time in 7). A strategy outside this list that still does well: in I-03 v2 the shard's "
              "second-placed candidate is the winner about 3/8 of the time at every N.", ""]
    DOC.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=100, help="instances per cell at N >= 20 (x4 at N <= 10)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="recompute only these task keys (e.g. II-14,II-14@2); other rows are kept from the data file")
    args = ap.parse_args()
    keys = [t.key for t in every_version()]
    todo = keys if args.only is None else [k for k in keys if k in args.only]
    if args.only is not None and len(todo) != len(args.only):
        raise SystemExit(f"--only: unknown task keys {sorted(set(args.only) - set(keys))} (known: {', '.join(keys)})")
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        fresh = dict(zip(todo, pool.map(_row, todo, [args.instances] * len(todo)), strict=True))
    minutes = took = (time.time() - t0) / 60
    if args.only is not None:
        kept = {r["key"]: r for r in json.loads(DATA.read_text())}
        missing = [k for k in keys if k not in fresh and k not in kept]
        if missing:
            raise SystemExit(f"--only: {DATA} has no row for {', '.join(missing)}: run the full table")
        found = re.search(r"last run: (\d+) minutes", DOC.read_text()) if DOC.exists() else None
        minutes = float(found.group(1)) if found else minutes  # the doc states the full table's run time
    rows = [fresh[k] if k in fresh else kept[k] for k in keys]
    DATA.write_text(json.dumps(rows, indent=1) + "\n")
    write_doc(rows, minutes)
    over = [r["key"] for r in rows if r["default"] and not r["within"]]
    print(f"wrote {DATA} and {DOC} in {took:.1f} min; defaults over budget: {', '.join(over) or 'none'}")
    raise SystemExit(1 if over else 0)


if __name__ == "__main__":
    main()
