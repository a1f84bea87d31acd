"""Guessability: how often trivial strategies are right without any communication.

Every strategy answers from what one agent has before the first message: the public task text,
its own shard, N, and answers learned from *other* instances (cross-fitted: learned on one half
of the seeds, measured on the other half, and vice versa). Strategies:
- const:<v>: a constant of the answer's type (0, 1, -1, true, false, [], {}) or any integer
  stated in the task description;
- modal: the most common truth learned on other seeds (per N, and per agent for segmented tasks);
- expected: the mean of the learned truths, rounded as the truths are (per element of equal-length
  lists, per field of objects of numbers);
- own_shard: the task's solver on the agent's own shard alone (for segmented tasks: its own segment
  computed locally), i.e. the `premature` team's answer;
- own_scaled: the own-shard answer multiplied by N (numbers only).
Agents whose answer depends on their own shard alone are left out: answering alone is not a guess.

The budget: at every N of the grid, the best strategy is right for at most BUDGET of the agents,
or at most the task's stated `inherent_chance(N)` (see its docstring for why such a task is kept).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from silo.tasks import UnknownTaskError, all_tasks, get_task, task_versions
from silo.tasks.base import TaskSpec, _canon

BUDGET = 0.10
GRID = (2, 5, 10, 20, 50, 100)
DATA = Path(__file__).resolve().parents[2] / "data" / "guessability.json"  # where the script writes it
SEED_BASE = 10_000  # suite seeds of the guessability instances: disjoint from tests' and suites' seeds
_INT = re.compile(r"(?<![\w.])-?\d+(?![\w.])")


def _key(x: Any) -> str:
    return json.dumps(_canon(x), sort_keys=True)


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _mean(values: list) -> Any:
    """The rounded mean of same-shaped truths (None when they are not numbers of one shape)."""
    first = values[0]
    if _num(first) and all(_num(v) for v in values):
        m = sum(values) / len(values)
        return round(m) if all(float(v).is_integer() for v in values) else round(m, 2)
    if isinstance(first, list) and first and all(isinstance(v, list) and len(v) == len(first) for v in values):
        cols = [_mean([v[k] for v in values]) for k in range(len(first))]
        return None if any(c is None for c in cols) else cols
    if isinstance(first, dict) and all(isinstance(v, dict) and v.keys() == first.keys() for v in values):
        cols = {k: _mean([v[k] for v in values]) for k in first}
        return None if any(c is None for c in cols.values()) else cols
    return None


def _constants(task: TaskSpec, truth: Any, description: str) -> dict[str, Any]:
    """Constant guesses of the truth's type; integers stated in the description for number answers."""
    if isinstance(truth, bool):
        return {"const:true": True, "const:false": False}
    if _num(truth):
        out = {f"const:{v}": v for v in (0, 1, -1)}
        out.update({f"const:{v}": int(v) for v in _INT.findall(description)})
        return out
    if isinstance(truth, list):
        return {"const:[]": []}
    if isinstance(truth, dict):
        return {"const:{}": {}}
    return {}


def _own_shard(task: TaskSpec, inst, a: int) -> Any:
    try:
        return task.solve([inst.shards[a].data], inst.params)[0]
    except Exception:  # noqa: BLE001 - some tasks have no answer on one shard: that guess is simply wrong
        return None


def _learn(truths: dict[tuple[int, int], list]) -> dict[tuple[int, int], tuple[Any, Any]]:
    """(modal, rounded mean) per (N, agent slot) from the truths seen on training seeds."""
    out = {}
    for slot, values in truths.items():
        counts = Counter(json.dumps(v, sort_keys=True) for v in values)  # truths are canonical already
        modal = json.loads(counts.most_common(1)[0][0])
        out[slot] = (modal, _mean(values))
    return out


def cell(task: TaskSpec, n: int, instances: int = 100) -> dict[str, float]:
    """Success rate of every strategy on `instances` fresh instances at N = n (cross-fitted halves)."""
    insts = [task.make_instance(n, SEED_BASE + s) for s in range(instances)]
    seg = task.answer_kind == "segmented"
    halves = (insts[0::2], insts[1::2])
    hits: Counter = Counter()
    total = 0
    for k, test in enumerate(halves):
        train: dict[tuple[int, int], list] = defaultdict(list)
        for inst in halves[1 - k]:
            for a, t in enumerate(inst.truth if seg else inst.truth[:1]):
                train[(n, a)].append(t)
        learned = _learn(train)
        for inst in test:
            counted = [a for a in range(n) if task.depends_on(inst, a) != {a}]
            total += len(counted)
            shared: dict[str, Any] = {}
            for a in counted:
                truth = inst.truth[a]
                modal, mean = learned.get((n, a if seg else 0), (None, None))
                guesses = {**_constants(task, truth, inst.description), "modal": modal}
                if mean is not None:
                    guesses["expected"] = mean
                own = _own_shard(task, inst, a)
                guesses["own_shard"] = own
                if _num(own):
                    guesses["own_scaled"] = round(own * n) if float(own).is_integer() else round(own * n, 2)
                for name, g in guesses.items():
                    if name == "own_shard" or name == "own_scaled" or seg:
                        hits[name] += g is not None and task.check(g, truth)[0]
                    else:  # global task: one guess, one truth for every agent; check it once
                        if name not in shared:
                            shared[name] = g is not None and task.check(g, truth)[0]
                        hits[name] += shared[name]
    return {name: h / total for name, h in hits.items()} if total else {}


def best(rates: dict[str, float]) -> tuple[str, float]:
    """The most successful strategy and its rate (modal and expected first on a tie)."""
    if not rates:
        return "", 0.0
    name = max(rates, key=lambda s: (rates[s], s in ("modal", "expected")))
    return name, rates[name]


def allowed(task: TaskSpec, n: int) -> float:
    """The budget of a task at N: BUDGET, or its stated inherent chance if that is higher."""
    return max(BUDGET, task.inherent_chance(n))


def margin(task: TaskSpec, n: int, instances: int) -> float:
    """Sampling slack of the budget check: none under the flat 10% budget (the new versions aim below
    it), two standard errors at the instance level where a task's rate is its stated chance by design."""
    c = task.inherent_chance(n)
    return 2 * (c * (1 - c) / instances) ** 0.5 if c >= BUDGET else 0.0


def instances_at(n: int, instances: int) -> int:
    """Instances per cell: four times as many at N <= 10, where they are cheap and rates closest to 10%."""
    return 4 * instances if n <= 10 else instances


def task_rows(task: TaskSpec, grid: Iterable[int] = GRID, instances: int = 100) -> dict:
    """One task version's table: per N every strategy's rate, the best one, the budget and whether it holds."""
    cells = {}
    for n in grid:
        k = instances_at(n, instances)
        rates = cell(task, n, k)
        name, rate = best(rates)
        cells[str(n)] = {"best": name, "rate": round(rate, 4), "budget": round(allowed(task, n), 4),
                         "within": rate <= allowed(task, n) + margin(task, n, k), "instances": k,
                         "rates": {s: round(v, 4) for s, v in sorted(rates.items())}}
    within = all(c["within"] for c in cells.values())
    return {"task": task.id, "version": task.version, "key": task.key, "default": task.key == task.id,
            "name": task.name, "cells": cells, "within": within, "guessable": not within,
            "lucky_max": max((c["rate"] for c in cells.values()), default=0.0),
            # the two figures earlier readers of this file used, as the worst over the grid
            "own_shard": max((c["rates"].get("own_shard", 0.0) for c in cells.values()), default=0.0),
            "modal_constant": max((c["rates"].get("modal", 0.0) for c in cells.values()), default=0.0)}


def every_version() -> list[TaskSpec]:
    """Every registered version of every task: the defaults first, then the pinned older ones."""
    tasks = all_tasks()
    return tasks + [get_task(f"{t.id}@{v}") for t in tasks for v in task_versions(t.id) if v != t.version]


def load_guessability() -> dict[str, dict]:
    """The committed table (data/guessability.json), by task key ('I-03' default, 'I-03@1' pinned).

    Every row has `guessable` (over budget at some N of the grid), `lucky_max` (the best trivial
    strategy's highest rate over the grid) and per-N `cells`. Empty if the file is missing."""
    f = resources.files("silo") / "data" / "guessability.json"  # the repo's data/ in a checkout
    text = f.read_text() if f.is_file() else (DATA.read_text() if DATA.exists() else "")
    if _parsed[0] != text:  # (a report asks once per task: the same text is parsed once, a rewritten one again)
        _parsed[:] = [text, json.loads(text) if text else []]
    return {r["key"]: r for r in _parsed[1] if "key" in r}  # (the rows are shared: read-only)


_parsed: list = [None, []]  # the table's text load_guessability read last, and its JSON


def guessable(task: str, version: int | None = None) -> dict | None:
    """The table row of a task version if it is over budget, else None: what `silo report` flags.

    `task` is an id, slug or key ('I-03@1'); `version` (e.g. EpisodeScore.task_version) pins it, None
    keeps `task` as given. An unknown task or version, or one missing from the table, is not flagged."""
    try:
        t = get_task(task if version is None else f"{task.split('@')[0]}@{version}")
    except UnknownTaskError:
        return None
    row = load_guessability().get(t.key)
    return row if row and row["guessable"] else None


__all__ = ["BUDGET", "GRID", "allowed", "best", "cell", "every_version", "guessable", "load_guessability",
           "task_rows"]
