"""Generators are deterministic and versioned: golden hashes pin every task's instances."""

import json
import sys
from pathlib import Path

import pytest

from silo.tasks import all_tasks, get_task
from silo.tasks.base import derive_seed, instance_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from golden import GOLDEN, every_version, golden_entry  # noqa: E402

GOLD = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("task", every_version(), ids=lambda t: t.key)
def test_generator_matches_golden_or_version_bumped(task):
    assert task.key in GOLD, f"{task.key} has no golden hashes: run scripts/golden.py"
    entry = golden_entry(task)
    gold = GOLD[task.key]
    assert gold["version"] == task.version, (
        f"{task.key} version {task.version} != golden {gold['version']}: run scripts/golden.py to record it")
    assert entry["hashes"] == gold["hashes"], f"{task.key}: generator changed without bumping its version"


def test_pinned_versions_are_the_reference_generators():
    """v1 of every task is reachable as 'X@1' and generates what the committed v1 hashes say."""
    for t in all_tasks():
        old = get_task(f"{t.id}@1")
        assert old.id == t.id and old.version == 1
        assert old.make_instance(3).task_version == 1 and old.make_instance(3).id.startswith(f"{t.id}-v1-")
    assert get_task("I-03@1") is not get_task("I-03") and get_task("I-03@2") is get_task("I-03")
    with pytest.raises(KeyError, match="versions of I-03"):
        get_task("I-03@9")


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
