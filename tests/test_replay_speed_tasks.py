"""Task declarations the scorer's caches rely on (issue 16), checked against the tasks' own hooks.

A task with raw_per_receiver = False has its raw fingerprints made once per shard, not once per (shard,
receiver): its raw_fingerprint must then be the same for every receiver.
"""

from __future__ import annotations

import pytest

from silo.evidence_text import parse
from silo.tasks import all_tasks, get_task, task_versions
from silo.tasks.base import TaskSpec

TASKS = [get_task(f"{t.id}@{v}") for t in all_tasks() for v in task_versions(t.id)]


@pytest.mark.parametrize("task", [t for t in TASKS if not t.raw_per_receiver], ids=lambda t: f"{t.id}@{t.version}")
def test_raw_fingerprints_declared_receiver_free_are_the_same_for_every_receiver(task):
    for n in (2, 5):
        inst = task.make_instance(n, 3)
        for j in range(n):
            fps = {repr(task.raw_fingerprint(inst, j, i)) for i in range(n)}
            assert len(fps) == 1, (task.id, n, j)


def test_a_task_whose_raw_fingerprint_depends_on_the_receiver_keeps_the_default():
    task = get_task("II-14")  # its raw items are the receiver's light cone of shard j
    inst = task.make_instance(5, 3)
    assert len({repr(task.raw_fingerprint(inst, 2, i)) for i in range(5)}) > 1
    assert task.raw_per_receiver


_SCOPED = [t for t in TASKS if type(t).stat_receiver is not TaskSpec.stat_receiver]


def test_some_tasks_declare_receiver_free_statistics():
    assert {t.id for t in _SCOPED} >= {"II-11", "II-20"}


@pytest.mark.parametrize("task", _SCOPED, ids=lambda t: f"{t.id}@{t.version}")
def test_statistics_declared_receiver_free_are_the_same_for_every_such_receiver(task):
    # every set of a 6-agent instance (and of a 3-agent one): the fingerprints of all receivers given -1 agree
    for n in (3, 6):
        inst = task.make_instance(n, 5)
        for bits in range(1, 1 << n):
            s = frozenset(k for k in range(n) if bits >> k & 1)
            free = [i for i in range(n) if task.stat_receiver(inst, s, i) == -1]
            assert all(task.stat_receiver(inst, s, i) == i for i in range(n) if i not in free)
            assert len({repr(task.stat_fingerprint(inst, s, i)) for i in free}) <= 1, (task.id, n, sorted(s))
            assert len({repr(task.claim_fingerprint(inst, s, i)) for i in free}) <= 1, (task.id, n, sorted(s))


_ALIKE = [t for t in TASKS if type(t).credit_receiver is not TaskSpec.credit_receiver]


def _alike_violations(task, n: int) -> list:
    """Where the credit_receiver declaration of a task's n-agent instance is wrong: for every provenance (every
    non-empty set), the receivers given -1 must have equal candidate_sets and stat_sets (in order), and every
    subset of prov must have stat_receiver -1 and cover depends_on of none of them (the search's every input)."""
    inst = task.make_instance(n, 5)
    text = parse(" ".join(f"{k}: {v}" for k, v in enumerate(range(7, 7 + 3 * n, 3))))
    sets = [frozenset(k for k in range(n) if bits >> k & 1) for bits in range(1, 1 << n)]
    bad = []
    for prov in sets:
        free = [i for i in range(n) if task.credit_receiver(inst, prov, i) == -1]
        if any(task.credit_receiver(inst, prov, i) != i for i in range(n) if i not in free):
            bad.append(("not -1 or i", sorted(prov)))
        if not free:
            continue
        if task.raw_per_receiver:
            bad.append(("raw per receiver", sorted(prov)))
        if len({repr([tuple(s) for s in task.candidate_sets(inst, prov, i)]) for i in free}) > 1:
            bad.append(("candidate_sets", sorted(prov)))
        if len({repr([tuple(s) for s in task.stat_sets(inst, text, prov, i)]) for i in free}) > 1:
            bad.append(("stat_sets", sorted(prov)))
        for s in (s for s in sets if s <= prov):
            if any(task.stat_receiver(inst, s, i) != -1 or s >= task.depends_on(inst, i) for i in free):
                bad.append(("subset", sorted(prov), sorted(s)))
    return bad


def test_some_tasks_declare_receivers_a_content_shows_alike():
    assert {t.id for t in _ALIKE} >= {"II-11", "II-20"}


@pytest.mark.parametrize("task", _ALIKE, ids=lambda t: f"{t.id}@{t.version}")
def test_receivers_declared_alike_get_the_same_search(task):
    for n in (3, 6):
        assert _alike_violations(task, n) == [], (task.id, n)


@pytest.mark.parametrize("task", _ALIKE, ids=lambda t: f"{t.id}@{t.version}")
def test_declaring_every_receiver_alike_fails_the_check(task):
    # a mutation: every receiver alike for every content (the receiver's own shard, inside prov, then is one)
    class Always(type(task)):
        def credit_receiver(self, inst, prov, i):
            return -1

    wrong = Always()
    assert _alike_violations(wrong, 3) != []
    assert _alike_violations(wrong, 6) != []
