"""Generators are deterministic and versioned: golden hashes pin every task's instances."""

import json
import sys
from pathlib import Path

import pytest

from silo.tasks import all_tasks
from silo.tasks.base import derive_seed, instance_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from golden import GOLDEN, golden_entry  # noqa: E402

GOLD = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_generator_matches_golden_or_version_bumped(task):
    assert task.id in GOLD, f"{task.id} has no golden hashes: run scripts/golden.py"
    entry = golden_entry(task)
    gold = GOLD[task.id]
    assert gold["version"] == task.version, (
        f"{task.id} version {task.version} != golden {gold['version']}: run scripts/golden.py to record it")
    assert entry["hashes"] == gold["hashes"], f"{task.id}: generator changed without bumping its version"


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_same_seed_same_instance_and_independent_of_order(task):
    a = task.make_instance(5, 3)
    for other in all_tasks()[:3]:  # generating other instances in between must not matter
        other.make_instance(7, 3)
    assert instance_hash(task.make_instance(5, 3)) == instance_hash(a)
    assert instance_hash(task.make_instance(5, 4)) != instance_hash(a)


def test_seed_derivation_separates_every_coordinate():
    base = derive_seed(0, "I-01", 5, 0)
    assert len({base, derive_seed(1, "I-01", 5, 0), derive_seed(0, "I-07", 5, 0),
                derive_seed(0, "I-01", 6, 0), derive_seed(0, "I-01", 5, 1)}) == 5
