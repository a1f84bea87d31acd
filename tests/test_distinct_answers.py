"""scoring.distinct_answers: the default exact checker's classes by look-up give the counts of the pairwise
checks (issue 16: premature at N = 1,000 submits 1,000 distinct answers; pairwise that is 4 s of scoring).

The pairwise path is reached by a task whose check is overridden (here: by one that calls the default), so
both paths see the same equivalence; answers are drawn to collide under it: ints, floats that are ints,
numeric and word strings in any case, booleans (True == 1 in Python), nested lists and dicts, NaN.

Tasks with their own checker or a tolerance: the look-ups of answer_keys give the counts of the pairwise checks
(the same representatives: each answer joins a class or starts one as the pairwise checks decide, so every
later answer is compared with the same classes). Answers are drawn to collide under each task's checker:
numbers on a grid of half tolerances (the tolerance is not transitive: 0, 0.01 and 0.02 are two classes or one
by order), the forms its parser accepts (" 5 ", "5.0", "0x5", "yes", 1 and True), the shapes it reads (lists,
objects keyed by node id, triples, fields in any case) and values at their edges (NaN, inf, "1e400", a
400-digit integer, null, empty containers, strings where a list is read). The pairwise side is the same task
with its check overridden (by one that calls it).
"""

from __future__ import annotations

import random

import pytest

from silo import scoring
from silo.answer_keys import lookup_for
from silo.scoring import distinct_answers
from silo.tasks import _OLDER, all_tasks, get_task
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
    # a checker the look-ups do not know (here: an override) is asked pairwise
    assert distinct_answers(_pairwise(get_task("III-22")), answers[:50]) == 50 and len(calls) == 50 * 49 // 2


def _keyed() -> list[str]:
    tasks = [*all_tasks(), *_OLDER.values()]
    return sorted(t.key for t in tasks if t.answer_kind == "global" and lookup_for(t, None) is not None)


KEYED = _keyed()


def _number(rng: random.Random, tol: float):
    step = (tol or 1.0) / 2
    pick = rng.randrange(10)
    if pick < 5:
        return round(rng.randrange(-1, 6) * step, 12) if pick < 3 else rng.randrange(-1, 6) * step
    if pick == 5:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 10 ** 400, 1e300, -0.0, True, False])
    if pick == 6:
        v = rng.randrange(4)
        return rng.choice([str(v), f" {v} ", f"{v}.0", hex(v), bin(v), "1e400", "NaN", "inf", "1_0", "x"])
    if pick == 7:
        return rng.choice(["yes", "no", "TRUE", "'true'", "False", None, "", "null"])
    return rng.randrange(4)


def _vector(rng, tol, depth=0):
    n = rng.choice([0, 1, 2, 2, 3, 20, 70]) if depth == 0 else rng.randrange(4)  # 70: past Ball.AXES
    base = _number(rng, tol)
    vec = [base if rng.random() < 0.6 else _number(rng, tol) for _ in range(n)]  # long ones share coordinates
    return rng.choice([vec, vec, str(vec).replace("'", '"'), "".join(map(str, vec))[:3]])


def _shaped(rng, tol):
    pick = rng.randrange(9)
    if pick == 0:
        return [_vector(rng, tol, 1) for _ in range(rng.randrange(4))]  # points
    if pick == 1:  # triples, as lists (maybe long or short) or objects
        def triple():
            t = [rng.randrange(2), rng.choice([0, 1, 1.0, True, None, "1"]), _number(rng, tol)]
            t = t[:rng.choice([3, 3, 3, 2])] + ([9] if rng.random() < 0.1 else [])
            return dict(zip(("user", "item", "score"), t, strict=False)) if rng.random() < 0.3 else t
        return [triple() for _ in range(rng.randrange(3))]
    if pick == 2:  # an object keyed by node ids
        vec = _vector(rng, tol, 1)
        vec = vec if isinstance(vec, list) else [1]
        keys = [rng.choice([str(k), f" {k}", k + 1 if rng.random() < 0.1 else str(k)]) for k in range(len(vec))]
        return {str(k): v for k, v in zip(keys, vec, strict=True)} | ({"x": 1} if rng.random() < 0.1 else {})
    if pick == 3:  # fields in any case, maybe missing or extra
        fields = [rng.choice(["variance", " Variance ", "VARIANCE"]), "max_load", rng.choice(["min_load", "min"])]
        return {f: _number(rng, tol) for f in fields if rng.random() < 0.9}
    if pick == 4:  # ranks by node
        return {rng.choice("abc"): rng.choice([_number(rng, tol), None, [1]]) for _ in range(rng.randrange(1, 4))}
    if pick == 5:  # rows of a matrix
        return [rng.choice([[1, 2], [1.0, 2], ["1", 2], None, [1.5], [True, 2]]) for _ in range(rng.randrange(3))]
    if pick == 6:
        return rng.choice([[], {}, "", "[]", "{}", "[1, 2]", '{"0": 1}', None])
    if pick == 7:
        return _answer(rng)
    return _vector(rng, tol)


def _draw(rng, tol):
    return _number(rng, tol) if rng.random() < 0.35 else _shaped(rng, tol)


@pytest.mark.parametrize("key", KEYED)
def test_keyed_classes_count_as_the_pairwise_checks(key):
    task = get_task(key)
    slow = _pairwise(task)
    rng = random.Random(key)
    for k in range(600):
        size = rng.randrange(2, 9) if k % 10 else rng.randrange(20, 40)
        answers = [_draw(rng, task.tolerance) for _ in range(size)]
        assert distinct_answers(task, answers) == distinct_answers(slow, answers), answers


@pytest.mark.parametrize("key", KEYED)
def test_near_truths_of_each_task_count_as_the_pairwise_checks(key):
    """Answers of the truth's own shape, a few coordinates moved by a multiple of half the tolerance."""
    task = get_task(key)
    slow = _pairwise(task)
    inst = _instance(task)
    truth = inst.truth[0]
    rng = random.Random(key)
    for _ in range(60):
        answers = [_moved(rng, truth, task.tolerance) for _ in range(rng.randrange(2, 12))]
        assert distinct_answers(task, answers) == distinct_answers(slow, answers), answers


def _instance(task: TaskSpec):
    return task.make_instance(6, 0, 0)  # (II-12's truth then has 86 numbers: past Ball.AXES)


def _moved(rng, x, tol):
    if isinstance(x, bool) or rng.random() < 0.7:
        return x if not isinstance(x, (list, dict)) else (
            [_moved(rng, v, tol) for v in x] if isinstance(x, list) else {k: _moved(rng, v, tol) for k, v in x.items()})
    if isinstance(x, (int, float)):
        return x + rng.randrange(-3, 4) * (tol or 1) / 2
    return x


def test_premature_answers_are_classed_without_pairwise_checks(monkeypatch):
    calls = []
    pairwise = scoring._same
    monkeypatch.setattr(scoring, "_same", lambda *a: calls.append(1) or pairwise(*a))
    for key in KEYED:
        task = get_task(key)
        answers = [_moved(random.Random(k), _instance(task).truth[0], task.tolerance) for k in range(200)]
        distinct_answers(task, answers)
    assert not calls


NAN = float("nan")
EDGES = [  # (task, answers): the values where a key could part from its checker
    ("I-04", [True, 1, "yes", " 'TRUE' ", 1.0, "1"]),
    ("I-07", [0, 0.01, 0.02]), ("I-07", [0.02, 0.01, 0]), ("I-07", [0.01, 0, 0.02]), ("I-07", ["1e400", "inf"]),
    ("I-07", ["1" * 400, 1e308, "NaN"]), ("I-09", [[], "", {}]), ("I-09", [[1, 2], "12", {"1": 0, "2": 0}]),
    ("II-17", [[NAN, 1], [NAN, True]]), ("II-17", ["12", ["1", "2"]]), ("II-17", [{"a": 1, "b": 2}, ["a", "b"]]),
    ("II-12", [[1, True], [1.005, 1], "10", [1, "0"]]), ("II-12", [[10 ** 400], [1e308]]),
    ("II-18", [{"a": None}, {"b": 1}]), ("II-18", [{"a": NAN}, {"a": "NaN"}, {"a": 1}]),
    ("III-22", [NAN, "nan", "NaN", 1, True]), ("III-24", [{"0": 1, " 0": 2, "1": 3}, [2, 3], [1, 3]]),
    ("III-28", [{"0": 0.1, " 0": 0.2, "1": 0.3}, [0.2, 0.3], [0.1, 0.3]]), ("III-28", [[], {}, ""]),
    ("III-27", [[[0, 1, 0.5, 9]], [[0, 1, 0.5]], [{"user": 0, "item": 1, "score": 0.50005}], [[0, True, "0.5"]]]),
    ("III-27", [[[0, 1, 0.5]], [[0, 1, 0.5, 9]]]), ("III-27", [[[NAN, 1, 0.5]], [[NAN, 1.0, 0.50001]]]),
    ("III-27", [[[None, 1, 0.5]], [[None, 1.0, 0.5]], [["x", 1, 0.5]], [[NAN, 1, 0.5]]]),
    ("III-25", [[], ""]), ("III-25", [[], {}]), ("III-25", [[[1, 2]], [[1.005, "2"]], [["1", 2.02]], ["12"]]),
    ("III-29", [{"Variance": 1, "max_load": 2, "min_load": 1}, {"variance": 1.005, "max_load": 2, "min_load": 1},
                {"variance": 1.02, "max_load": 2, "min_load": True}]),
    ("III-30", [[[1.5]], [None], [["1"]], [[1]], [[True]]]),
]


@pytest.mark.parametrize(("key", "answers"), EDGES)
def test_edges_count_as_the_pairwise_checks(key, answers):
    task = get_task(key)
    assert distinct_answers(task, answers) == distinct_answers(_pairwise(task), answers)


@pytest.mark.parametrize("key", ["II-12", "III-28"])
def test_long_vectors_moved_off_the_sorted_coordinates_count_as_the_pairwise_checks(key):
    """Past Ball.AXES coordinates: answers equal on the sorted ones, moved at one that is not (5, 7)."""
    task = get_task(key)
    tol = task.tolerance
    rng = random.Random(key)
    for _ in range(40):
        answers = []
        for _ in range(rng.randrange(2, 12)):
            vec = [1.0] * 100
            for c in rng.sample([5, 7, 50], rng.randrange(3)):
                vec[c] += rng.randrange(-2, 9) * tol / 2
            answers.append(vec)
        assert distinct_answers(task, answers) == distinct_answers(_pairwise(task), answers), answers
