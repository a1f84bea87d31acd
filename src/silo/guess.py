"""Guessability: how often trivial strategies are right, so "lucky" rates can be read in context.

Strategies, per task, on fresh instances:
- own_shard: every agent answers from its own shard alone (the `premature` team's answer),
  counted only for agents whose answer depends on other shards;
- modal_constant: every agent gives the most frequent truth seen on *other* seeds (the best
  constant answer a guesser could learn from published instances).
A task is flagged guessable when either strategy is right for more than GUESSABLE share of agents.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from silo.tasks import all_tasks
from silo.tasks.base import TaskSpec, _canon

GUESSABLE = 0.10
DATA = Path(__file__).resolve().parents[2] / "data" / "guessability.json"


def _key(x) -> str:
    return json.dumps(_canon(x), sort_keys=True)


def own_shard_rate(task: TaskSpec, ns: tuple[int, ...], seeds: range) -> float:
    """Share of agents whose own-shard answer is correct."""
    hits = total = 0
    for n in ns:
        for s in seeds:
            inst = task.make_instance(n, s)
            for a, shard in enumerate(inst.shards):
                if task.depends_on(inst, a) == {a}:
                    continue  # its answer needs nobody else: answering alone is not a guess
                try:
                    guess = task.solve([shard.data], inst.params)[0]
                except Exception:  # some tasks have no own-shard answer: that guess is simply wrong
                    guess = None
                hits += guess is not None and task.check(guess, inst.truth[a])[0]
                total += 1
    return hits / total if total else 0.0


def modal_constant_rate(task: TaskSpec, ns: tuple[int, ...], train: range, test: range) -> tuple[float, str]:
    """Success of the modal truth learned on `train` seeds, measured on `test` seeds."""
    rate_hits = total = 0
    best = ""
    for n in ns:
        counts = Counter(_key(t) for s in train for t in task.make_instance(n, s).truth)
        best, _ = counts.most_common(1)[0]
        const = json.loads(best)
        for s in test:
            inst = task.make_instance(n, s)
            rate_hits += sum(task.check(const, t)[0] for t in inst.truth)
            total += inst.n_agents
    return rate_hits / total, best


def guessability(ns: tuple[int, ...] = (2, 5, 10), seeds: int = 20) -> list[dict]:
    """One row per task: both trivial strategies' success rates and the guessable flag."""
    rows = []
    for t in all_tasks():
        own = own_shard_rate(t, ns, range(1000, 1000 + seeds))
        const, value = modal_constant_rate(t, ns, range(seeds), range(1000, 1000 + seeds))
        rows.append({"task": t.id, "name": t.name, "own_shard": round(own, 4), "modal_constant": round(const, 4),
                     "modal_value": value[:40], "guessable": max(own, const) > GUESSABLE})
    return rows


def load_guessability(path: Path = DATA) -> dict[str, dict]:
    """The committed guessability table, by task id (empty if not generated)."""
    if not path.exists():
        return {}
    return {r["task"]: r for r in json.loads(path.read_text())}
