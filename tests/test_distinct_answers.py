"""scoring.distinct_answers: the default exact checker's classes by look-up give the counts of the pairwise
checks (issue 16: premature at N = 1,000 submits 1,000 distinct answers; pairwise that is 4 s of scoring).

The pairwise path is reached by a task whose check is overridden (here: by one that calls the default), so
both paths see the same equivalence; answers are drawn to collide under it: ints, floats that are ints,
numeric and word strings in any case, booleans (True == 1 in Python), nested lists and dicts, NaN.
"""

from __future__ import annotations

import random

import pytest

from silo.scoring import distinct_answers
from silo.tasks import all_tasks, get_task
from silo.tasks.base import TaskSpec

EXACT = [t.id for t in all_tasks() if type(t).check is TaskSpec.check and not t.tolerance]


def _pairwise(task: TaskSpec) -> TaskSpec:
    class Pairwise(type(task)):
        def check(self, answer, truth):
            return super().check(answer, truth)

    return Pairwise()


def _answer(rng: random.Random, depth: int = 0):
    pick = rng.randrange(9 if depth < 2 else 6)
    n = rng.randrange(4)
    if pick == 0:
        return n
    if pick == 1:
        return float(n) + rng.choice([0.0, 0.5])
    if pick == 2:
        return rng.choice([str(n), f" {n} ", f"{n}.0", "[1, 2]", '{"a": 1}'])
    if pick == 3:
        return rng.choice([True, False, "true", "TRUE", "True", "yes", "Yes", "null", None])
    if pick == 4:
        return rng.choice(["abc", "ABC", "NaN", float("nan"), "-0", -0.0, "1e2", 100])
    if pick == 5:
        return rng.choice([[], {}, "", "[]", "{}"])
    if pick in (6, 7):
        return [_answer(rng, depth + 1) for _ in range(rng.randrange(1, 3))]
    return {rng.choice("ab"): _answer(rng, depth + 1) for _ in range(rng.randrange(1, 3))}


@pytest.mark.parametrize("task_id", EXACT)
def test_exact_classes_count_as_the_pairwise_checks(task_id):
    task = get_task(task_id)
    slow = _pairwise(task)
    rng = random.Random(task_id)
    for _ in range(300):
        answers = [_answer(rng) for _ in range(rng.randrange(2, 9))]
        assert distinct_answers(task, answers) == distinct_answers(slow, answers), answers


def test_classes_join_through_a_twice_canonical_form():
    task = get_task("I-01")
    # "TRUE" canonical is the string "true", whose canonical is True: the checker calls it the same as True
    assert distinct_answers(task, [True, "TRUE"]) == distinct_answers(_pairwise(task), [True, "TRUE"]) == 1
    assert distinct_answers(task, ["TRUE", True, 1, 1.0, "1"]) == 1
    assert distinct_answers(task, [[1, {"a": "2"}], [1.0, {"a": 2}], [1, {"a": 3}]]) == 2


def test_a_thousand_distinct_answers_are_counted_without_pairwise_checks(monkeypatch):
    from silo import scoring

    calls = []
    pairwise = scoring._same
    monkeypatch.setattr(scoring, "_same", lambda *a: calls.append(1) or pairwise(*a))
    answers = [1000003 + 7 * i for i in range(1000)]
    assert distinct_answers(get_task("I-01"), answers) == 1000 and not calls
    assert distinct_answers(get_task("I-04"), answers[:50]) == 50 and len(calls) == 50 * 49 // 2  # its own check
