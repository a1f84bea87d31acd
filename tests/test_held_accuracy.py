"""Held accuracy on a small grid: the scorer against the chatty team's constructed truth (scripts/held_accuracy.py).

The budget (issue 12) is FP <= 1% and FN <= 2% per task. On a few seeds a task has only tens of agents in
each group, where one miss is already several percent, so a task fails only when its count would be very
unlikely (one-sided binomial tail below ALPHA) if the task's true rate were exactly at budget. With 30
tasks x 2 rates tested, ALPHA = 1e-4 keeps the chance of a false alarm for a scorer at budget under 1%.
The full grid (20 seeds, docs/held_accuracy.md) applies the budget to the rates as measured.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from silo.agents.chatty import chatty_team
from silo.agents.chatty_text import corrupt, drop, items_of
from silo.agents.chatty_truth import Fact, Semantics
from silo.agents.scripted import scripted_team
from silo.records import OUTCOMES
from silo.tasks import all_tasks, get_task

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (101, 102)
NS = (2, 5)
ALPHA = 1e-4
# Tasks over budget on this small grid, each with the count it must not exceed (a ratchet: it can only
# tighten). Empty since II-14 v3: its halos were 5 cells (v2), which could not be told from chance (18.9%
# chance match), and that ceiling was 9 false negatives; v3's 10-cell halos match by chance 0.08%.
KNOWN_OVER: dict[tuple[str, str], int] = {}


def _script():
    spec = importlib.util.spec_from_file_location("held_accuracy", ROOT / "scripts" / "held_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(k, n + 1)) if k > 0 else 1.0


def over_budget(count: int, total: int, budget: float) -> bool:
    return total > 0 and tail(count, total, budget) < ALPHA


@pytest.fixture(scope="module")
def measured():
    mod = _script()
    tasks = [t.id for t in all_tasks()]
    result, _ = mod.measure(tasks, ("p2p", "broadcast", "sfs"), NS, len(SEEDS), jobs=1, first_seed=SEEDS[0])
    return mod, result


def test_margin_is_what_the_docstring_says():
    assert not over_budget(0, 50, 0.01) and not over_budget(3, 50, 0.01)
    assert over_budget(8, 50, 0.01) and over_budget(30, 1000, 0.01)
    assert not over_budget(12, 1000, 0.01)  # 1.2% of a large sample: left to the full grid


def test_every_task_within_budget(measured):
    mod, result = measured
    bad = []
    for t, s in result["tasks"].items():
        for kind, total, budget in (("fp", "true_not_held", mod.FP_BUDGET), ("fn", "true_held", mod.FN_BUDGET)):
            ceiling = KNOWN_OVER.get((t, kind))
            if ceiling is not None:
                if s[kind] > ceiling:
                    bad.append(f"{t} {kind.upper()} {s[kind]}/{s[total]} (known over budget, ceiling {ceiling})")
            elif over_budget(s[kind], s[total], budget):
                bad.append(f"{t} {kind.upper()} {s[kind]}/{s[total]}")
    assert not bad, "held over budget: " + ", ".join(bad)


def test_the_grid_exercises_every_class_and_both_groups(measured):
    _, result = measured
    assert set(result["true_outcomes"]) == set(OUTCOMES)
    for t, s in result["tasks"].items():
        assert s["true_held"] >= 5 and s["true_not_held"] >= 5, (t, s)


def test_chatty_runs_through_the_registry_and_logs_its_truth():
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig

    inst = get_task("I-01").make_instance(5, 7)
    cfg = EpisodeConfig(task="I-01", n_agents=5, protocol="broadcast", team="chatty", max_rounds=20)
    ep = run_sync(run_episode(inst, cfg, scripted_team("chatty", inst, "broadcast")))
    assert ep.status in ("complete", "max_rounds")
    notes = {e.agent: e.data["chatty_truth"] for e in ep.events if e.kind == "note" and "chatty_truth" in e.data}
    assert set(notes) == {s.agent for s in ep.submissions}
    assert all(n["outcome"] in OUTCOMES for n in notes.values())
    solo = get_task("I-01").make_instance(1, 7)
    ep = run_sync(run_episode(solo, cfg.model_copy(update={"n_agents": 1, "protocol": "none"}),
                              scripted_team("chatty", solo, "none")))
    assert ep.status == "complete" and not any(e.kind == "error" for e in ep.events)
    with pytest.raises(ValueError, match="p2p, broadcast or sfs"):
        chatty_team(inst, "blackboard")


@pytest.mark.parametrize("task", [t.id for t in all_tasks()])
def test_what_carries_nothing_really_is_uninformative(task):
    """Partial lists lack the same items and compute a different partial; wrong statistics are wrong."""
    import random

    spec = get_task(task)
    inst = spec.make_instance(5, 3)
    sem = Semantics(spec, inst)
    rng = random.Random(0)
    for j in range(5):
        data, params = inst.shards[j].data, inst.params
        if sem.withheld[j] is not None:
            sub = drop(data, sem.withheld[j])
            assert items_of(sub) < items_of(data)
            try:
                assert spec.partial(sub, j, params) != spec.partial(data, j, params)
            except (ValueError, TypeError, KeyError, IndexError):
                pass  # the rest does not even have a partial (e.g. a row of A too short for B)
        assert corrupt(spec.partial(data, j, params), rng) != spec.partial(data, j, params)
        assert not spec.check(corrupt(inst.truth[j], rng), inst.truth[j])[0]


def test_facts_are_exact_where_they_may_go():
    """A carry informs only later agents and is never allowed backwards; halos only their agent."""
    spec = get_task("II-11")
    inst = spec.make_instance(5, 0)
    sem = Semantics(spec, inst)
    assert sem.gives(Fact("carry", 2), 3) == frozenset({0, 1, 2}) and not sem.allowed(Fact("carry", 2), 1)
    life = Semantics(get_task("II-14"), get_task("II-14").make_instance(5, 0))
    assert life.gives(Fact("halo", 2, 3), 1) == frozenset() and not life.allowed(Fact("halo", 2, 3), 1)
    _, led = chatty_team(inst, "p2p")
    assert [r["outcome"] for r in led.final()] == ["no_answer"] * 5  # nothing run yet
