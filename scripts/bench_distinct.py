"""scoring.distinct_answers old (pairwise checks) vs new (answer_keys look-ups) on answers that all disagree.

For every global task with its own checker or a tolerance: the truth of an instance (--truth-n agents, so an
answer is of the size the grid's instances have), then --answers answers that all disagree: answer k is the
truth with one number moved, at position k mod d (d numbers in the truth), by (k // d + 1) x 3 tolerances (or
by that many units without a tolerance), so no two are one answer; a boolean truth gets unreadable strings.
Old is scoring.distinct_answers of 8b53d92 (copied below: the pairwise loop, which the new code keeps for
checkers it has no keys for), timed on the first --old-answers of them; new on the same answers, in the same
process, old and new alternating (--rounds), median of the CPU times. Prints one row per task.

    python scripts/bench_distinct.py --answers 1000 --old-answers 1000 --rounds 3
    python scripts/bench_distinct.py --grid RUN_DIR --rounds 5   # the submissions of a run's episodes
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from silo.answer_keys import lookup_for
from silo.scoring import _canon, _exact_classes, _same, distinct_answers
from silo.tasks import all_tasks
from silo.tasks.base import TaskSpec


def old_distinct(task: TaskSpec, answers: list) -> int:
    """scoring.distinct_answers as of 8b53d92."""
    reps: list = []
    keys: set[str] = set()
    once = {id(a): a for a in answers}
    if len(once) == 1:
        json.dumps(answers[0], sort_keys=True)
        return 1
    same = _exact_classes() if type(task).check is TaskSpec.check and not task.tolerance else None
    for raw in dict.fromkeys(json.dumps(a, sort_keys=True) for a in once.values()):
        a = json.loads(raw)
        c = _canon(a)
        key = json.dumps(c, sort_keys=True)
        if key in keys:
            continue
        keys.add(key)
        if not (same(c) if same is not None else any(_same(task, a, r) for r in reps)):
            reps.append(a)
    return len(reps)


def _paths(x, at=()):
    """Paths to the numbers (not booleans) of a JSON value, in order."""
    if isinstance(x, bool):
        return []
    if isinstance(x, (int, float)):
        return [at]
    if isinstance(x, list):
        return [p for i, v in enumerate(x) for p in _paths(v, (*at, i))]
    if isinstance(x, dict):
        return [p for k, v in x.items() for p in _paths(v, (*at, k))]
    return []


def _moved(truth, path, by):
    if not path:
        return truth + by
    head, rest = path[0], path[1:]
    if isinstance(truth, list):
        return [_moved(v, rest, by) if i == head else v for i, v in enumerate(truth)]
    return {k: _moved(v, rest, by) if k == head else v for k, v in truth.items()}


def disagreeing(task: TaskSpec, truth, n: int) -> list:
    """n answers no two of which the checker calls one answer (see the module docstring)."""
    paths = _paths(truth)
    if not paths:
        return [f"unsure ({k})" for k in range(n)]
    step = 3 * task.tolerance if task.tolerance else 1
    if task.id == "III-24":  # node distances: keep them ints
        step = 1
    return [_moved(truth, paths[k % len(paths)], (k // len(paths) + 1) * step) for k in range(n)]


def _cpu(fn, *args) -> tuple[float, int]:
    t = time.process_time()
    got = fn(*args)
    return time.process_time() - t, got


def _each(count, group: list) -> list[int]:
    return [count(t, a) for t, a in group]


def grid(run_dir: str, rounds: int) -> None:
    """Old vs new over the submissions of every global episode of a run directory (as score_episode reads
    them: episode_io.read_scored), per task: the sets a grid gives (mostly a few answers each)."""
    from pathlib import Path

    from silo import episode_io
    from silo.tasks import get_task

    sets: dict[str, list] = {}
    for path in episode_io.files(Path(run_dir) / "episodes"):
        ep = episode_io.read_scored(path, frozenset())
        if ep.instance.answer_kind == "global":
            task = get_task(f"{ep.instance.task}@{ep.instance.task_version}")
            sets.setdefault(task.key, []).append((task, [x.answer for x in ep.submissions]))
    print(f"load average {os.getloadavg()}")
    print("| task | episodes | old, CPU | new, CPU | old/new |")
    for key, group in sorted(sets.items()):
        if lookup_for(group[0][0], None) is None:
            continue
        olds, news = [], []
        for _ in range(rounds):
            t_old, c_old = _cpu(_each, old_distinct, group)
            t_new, c_new = _cpu(_each, distinct_answers, group)
            assert c_old == c_new, key
            olds.append(t_old)
            news.append(t_new)
        o, n = statistics.median(olds), statistics.median(news)
        print(f"| {key} | {len(group)} | {o:.4f} s | {n:.4f} s | {o / n:.2f}x |", flush=True)
    print(f"load average {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--answers", type=int, default=1000)
    ap.add_argument("--old-answers", type=int, default=1000, help="old is timed on the first this many")
    ap.add_argument("--truth-n", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", default="", help="comma-separated task ids (default: every one with keys)")
    ap.add_argument("--grid", default="", help="a run directory: old vs new over its episodes' submissions instead")
    args = ap.parse_args()
    if args.grid:
        return grid(args.grid, args.rounds)
    tasks = [t for t in all_tasks() if t.answer_kind == "global" and lookup_for(t, None) is not None]
    if args.tasks:
        tasks = [t for t in tasks if t.id in args.tasks.split(",")]
    print(f"load average {os.getloadavg()}")
    print("| task | answer numbers | answers | classes | old (pairwise), CPU | new, CPU (all answers) "
          "| new, CPU (old's answers) | old/new |")
    for task in tasks:
        truth = task.make_instance(args.truth_n, 0, 0).truth[0]
        answers = disagreeing(task, truth, args.answers)
        few = answers[:args.old_answers]
        olds, news, news_few = [], [], []
        for _ in range(args.rounds):
            t_old, c_old = _cpu(old_distinct, task, few)
            t_few, c_few = _cpu(distinct_answers, task, few)
            t_new, c_new = _cpu(distinct_answers, task, answers)
            assert c_old == c_few == len(few) and c_new == len(answers), (task.id, c_old, c_few, c_new)
            olds.append(t_old)
            news.append(t_new)
            news_few.append(t_few)
        o, nf, n = (statistics.median(x) for x in (olds, news_few, news))
        print(f"| {task.key} | {len(_paths(truth))} | {len(few)} / {len(answers)} | {c_new} | {o:.3f} s "
              f"| {n:.3f} s | {nf:.3f} s | {o / nf:.0f}x |", flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
