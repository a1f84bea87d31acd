"""The scorer's CPU on a run's episodes, old code vs new, paired in one run (issue 16, target 3).

    .venv/bin/python scripts/bench_score.py RUN_DIR --old OLD_SRC [--new NEW_SRC] [--rounds 3] [--top 12]

Each round scores every episode of RUN_DIR once with each code tree (a folder holding the silo package,
e.g. a `git archive` of an older commit's src/), each in a fresh process, in alternating order (old first
in even rounds, new first in odd ones), one process at a time. A process reads an episode
(episode_io.read_scored, untimed) and then times scoring.score_episode on it with process CPU time, so the
figure is the scorer's replay and evidence search only, not reading. Prints the median CPU seconds per
task and in total for both trees, their ratio, the load average, and whether the two trees' scores are
identical (a digest of every score row, compared across trees and rounds): exit code 1 if they are not.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def child(run_dir: Path) -> dict:
    """Score every episode of run_dir; CPU seconds per task and a digest of the score rows."""
    from silo import episode_io
    from silo.scoring import SCORED_KINDS, score_episode
    from silo.tasks import all_tasks

    all_tasks()  # the task registry is loaded before timing: a one-off import, not scoring
    cpu: Counter = Counter()
    digest = hashlib.sha256()
    lean = "skip_empty_listings" in inspect.signature(episode_io.read_scored).parameters
    for f in episode_io.files(run_dir / "episodes"):
        # what `silo score` reads with that tree's code: without the listings that found nothing where it skips them
        ep = episode_io.read_scored(f, SCORED_KINDS, skip_empty_listings=True) if lean else \
            episode_io.read_scored(f, SCORED_KINDS)
        t0 = time.process_time()
        score = score_episode(ep)
        cpu[ep.instance.task] += time.process_time() - t0
        digest.update(score.model_dump_json().encode())
    import silo
    return {"cpu": dict(cpu), "digest": digest.hexdigest(), "silo": str(Path(silo.__file__).parent)}


def run_child(src: Path, run_dir: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("SILO_PLUGINS", None)
    out = subprocess.run([sys.executable, __file__, "--child", str(run_dir)], env=env, check=True,
                         capture_output=True, text=True).stdout
    got = json.loads(out)
    if not got["silo"].startswith(str(src.resolve())):
        raise SystemExit(f"bench_score: {src} did not provide silo (imported {got['silo']})")
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--old", type=Path, help="old code tree (a folder holding silo/)")
    ap.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=12, help="tasks shown, most expensive (old) first")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.run_dir)))
        return 0
    if a.old is None:
        ap.error("--old is required")
    trees = {"old": a.old.resolve(), "new": a.new.resolve()}
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    load = [os.getloadavg()[0]]
    for r in range(a.rounds):
        for label in (("old", "new") if r % 2 == 0 else ("new", "old")):
            got = run_child(trees[label], a.run_dir)
            runs[label].append(got)
            print(f"round {r + 1} {label}: {sum(got['cpu'].values()):.2f} s CPU", file=sys.stderr)
        load.append(os.getloadavg()[0])
    print(report(runs, trees, a.run_dir, load, a.top))
    digests = {g["digest"] for rs in runs.values() for g in rs}
    return 0 if len(digests) == 1 else 1


def report(runs: dict[str, list[dict]], trees: dict[str, Path], run_dir: Path, load: list[float], top: int) -> str:
    med = {k: {t: statistics.median(g["cpu"].get(t, 0.0) for g in rs) for t in rs[0]["cpu"]} for k, rs in runs.items()}
    tot = {k: statistics.median(sum(g["cpu"].values()) for g in rs) for k, rs in runs.items()}
    same = len({g["digest"] for rs in runs.values() for g in rs}) == 1
    lines = [f"scorer CPU (score_episode, reading excluded) of {run_dir}, median of {len(runs['old'])} rounds, "
             f"old {trees['old']} vs new {trees['new']}; load average (1 min) {min(load):.1f}-{max(load):.1f}; "
             f"scores {'IDENTICAL' if same else 'DIFFER'}", "",
             "| task | old CPU s | new CPU s | new / old |", "|---|---:|---:|---:|"]
    for t in sorted(med["old"], key=lambda t: -med["old"][t])[:top]:
        o, n = med["old"][t], med["new"].get(t, 0.0)
        lines.append(f"| {t} | {o:.2f} | {n:.2f} | {n / o if o else 0:.2f} |")
    lines.append(f"| **all** | **{tot['old']:.2f}** | **{tot['new']:.2f}** | **{tot['new'] / tot['old']:.2f}** |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
