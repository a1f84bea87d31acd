"""Task declarations the scorer's caches rely on (issue 16), checked against the tasks' own hooks.

A task with raw_per_receiver = False has its raw fingerprints made once per shard, not once per (shard,
receiver): its raw_fingerprint must then be the same for every receiver.
"""

from __future__ import annotations

import pytest

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
