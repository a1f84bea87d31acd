"""Distinct answers by look-up for tasks with their own checker or a tolerance (scoring.distinct_answers).

scoring._same(task, a, r) asks the checker four ways: check(a, r), check(r, a), check(a, C(r)), check(r, C(a))
(C: base._canon; the second value stands for the truth). For the checkers below, "x is y" compares what is
read from x as an answer (its answer key) with what is read from y as a truth (its truth key): equal keys, or
keys of one shape whose numbers lie within the tolerance coordinate by coordinate. Then a new answer a is in a
class so far exactly when its answer key meets a representative's truth key (of r or of C(r)), or its truth
keys (of a, of C(a)) meet a representative's answer key: look-ups in sets, or in sorted coordinates for a
tolerance, instead of four checker calls per representative (premature at N = 1,000: a million).

A key of None: the value is never that side of a true check (the checker returns False or raises). ODD: the
keys do not describe the value's checks exactly; it is compared with every representative by the checker
itself, as before (e.g. II-18's truth with a null value, which an answer without that key matches). Equal keys
are equal as Python values (==, as the checkers compare) except that containers take an object as equal to
itself: a NaN, unequal to itself when compared bare, is never a key part compared bare (its key is None).
tests/test_distinct_answers.py checks each task's keys against the pairwise checks over drawn answer sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from silo.answer_lookup import ODD, Exact, Lookup, Near
from silo.tasks.base import TaskSpec, _canon, as_int_list, as_number
from silo.tasks.common import as_json, as_list
from silo.tasks.t04_any_match import AnyMatch, _parse_bool
from silo.tasks.t06_checksum_xor import ChecksumXor, _parse_int
from silo.tasks.t09_top_k import TopK
from silo.tasks.t12_moving_average import MovingAverage
from silo.tasks.t17_difference_array import DifferenceArray
from silo.tasks.t18_list_ranking import ListRanking
from silo.tasks.t19_merge_neighbours import MergeNeighbours
from silo.tasks.t22_median import Median
from silo.tasks.t23_graph_components import GraphComponents
from silo.tasks.t24_bfs_distance import BfsDistance, node_list
from silo.tasks.t25_kmeans_step import KMeansStep
from silo.tasks.t26_global_distinct import GlobalDistinct
from silo.tasks.t27_collab_filtering import CollabFiltering
from silo.tasks.t28_pagerank_step import PageRankStep
from silo.tasks.t29_load_balance import FIELDS, LoadBalance
from silo.tasks.t30_matrix_multiply import MatrixMultiply


def hashable(x):
    """A canonical answer as a value equal (==, and so of equal hash) to another's exactly when the answers
    are equal: lists as tuples, dicts (string keys) as frozen sets of items."""
    if isinstance(x, list):
        return tuple(hashable(v) for v in x)
    if isinstance(x, dict):
        return frozenset((k, hashable(v)) for k, v in x.items())
    return x


def _nan(x) -> bool:
    return isinstance(x, float) and x != x


def _bare(x):
    """The key of a value the checker compares bare (==): none for a NaN."""
    return None if _nan(x) else hashable(x)


def _finite(x) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _number(t) -> float | None:
    """A truth's number as the checker subtracts it (float - int converts the int; bool is 0 / 1), or None when
    the subtraction raises or no value is ever within a finite tolerance of it."""
    if not isinstance(t, (int, float)):
        return None
    try:
        return _finite(float(t))
    except OverflowError:
        return None


def _numbers(xs, read: Callable = as_number) -> tuple | None:
    """Every item read as a finite number, or None."""
    out = tuple(_finite(read(x)) for x in xs)
    return None if None in out else out


def _empty(y) -> bool:
    return isinstance(y, (str, list, dict)) and not y


# ---- keys by task ---------------------------------------------------------------------------------------------
# exact checkers: check(x, y) is answer(x) == truth(y), neither None


def _parsed(parse: Callable) -> Callable:
    """The answer key of check_value(parse(x), y) tasks (their truth key is the bare value)."""
    return lambda x: _bare(parse(x))


def _top_k_truth(y):
    return hashable(list(y)) if isinstance(y, (str, list, dict)) else None  # list(y) of anything else raises


def _list_answer(x):  # check_list without a tolerance: position by position, _canon(a) == _canon(t)
    got = as_list(x)
    if not got:
        return None  # (a truth is never empty)
    canon = [_canon(v) for v in got]
    return None if any(map(_nan, canon)) else hashable(canon)


def _list_truth(y):
    return _list_answer(list(y)) if isinstance(y, (str, list, dict)) and y else None


def _ranks_answer(x):  # ListRanking: the canonical dict's items
    got = as_json(x, dict)
    if got is None:
        return None
    got = _canon(got)
    return None if any(_nan(v) for v in got.values()) else hashable(got)


def _ranks_truth(y):
    if not isinstance(y, dict) or not y:
        return None
    if any(v is None for v in y.values()):
        return ODD  # an answer without the key matches that item (got.get(k) == None)
    return None if any(_nan(v) for v in y.values()) else hashable(y)


def _node_list(x) -> list | None:
    """node_list(x, n) at the one n it can succeed at for an object keyed by node ids (any n for a list)."""
    d = as_json(x, object)
    if not isinstance(d, dict):
        return node_list(x, 0)
    try:
        n = len({int(str(k).strip()) for k in d})
    except ValueError:
        return None
    return node_list(x, n)


def _bfs_answer(x):
    return hashable(as_int_list(_node_list(x)))


def _list_only(y):
    return hashable(y) if isinstance(y, list) else None


def _matrix_answer(x):
    rows = as_list(x)
    return None if rows is None else hashable([as_int_list(r) for r in rows])


# tolerance checkers: check(x, y) is answer(x) and truth(y) of one group, numbers within the tolerances


def _scalar(x):  # the default check with a tolerance: as_number of both
    v = _finite(as_number(x))
    return None if v is None else ((), (v,))


def _window_answer(x):  # check_list with a tolerance: as_number(a) - t for every position
    got = as_list(x)
    nums = _numbers(got) if got else None
    return None if nums is None else (len(nums), nums)


def _window_truth(y):
    nums = _numbers(y, _number) if isinstance(y, list) and y else None
    return None if nums is None else (len(nums), nums)


def _centroids_answer(x):  # check_items, KMeansStep._same: every point a list of numbers within the tolerance
    got = as_list(x)
    if got is None:
        return None
    points = [as_list(p) for p in got]
    if None in points:
        return None
    nums = [_numbers(p) for p in points]
    if None in nums:
        return None
    return tuple(len(p) for p in nums), tuple(v for p in nums for v in p)


def _centroids_truth(y):
    if _empty(y):
        return (), ()
    if not isinstance(y, list) or not all(isinstance(p, list) for p in y):
        return None
    nums = [_numbers(p, _number) for p in y]
    if None in nums:
        return None
    return tuple(len(p) for p in nums), tuple(v for p in nums for v in p)


def _triples_answer(x):  # check_items, CollabFiltering._same: user and item bare, the score within the tolerance
    got = as_list(x)
    if got is None:
        return None
    ids, scores = [], []
    for a in got:
        if isinstance(a, dict):
            a = [a.get("user"), a.get("item"), a.get("score")]
        a = as_list(a)
        if a is None or len(a) != 3:
            return None
        u, i, s = (as_number(v) for v in a)
        if _nan(u) or _nan(i) or _finite(s) is None:
            return None
        ids.append((u, i))
        scores.append(s)
    return (len(ids), tuple(ids)), tuple(scores)


def _triples_truth(y):
    if _empty(y):
        return (0, ()), ()
    if not isinstance(y, list):
        return None
    ids, scores = [], []
    for t in y:
        if not isinstance(t, list) or len(t) < 3:
            return None  # t[k] raises or (a string) is never a number's equal
        s = _number(t[2])
        if s is None or _nan(t[0]) or _nan(t[1]):
            return None
        ids.append((hashable(t[0]), hashable(t[1])))
        scores.append(s)
    return (len(ids), tuple(ids)), tuple(scores)


def _ranks_vector_answer(x):  # PageRankStep: node_list, then as_number(a) - t per node
    got = _node_list(x)
    nums = None if got is None else _numbers(got)
    return None if nums is None else (len(nums), nums)


def _ranks_vector_truth(y):
    if _empty(y):
        return 0, ()
    return _window_truth(y)


def _loads_answer(x):  # LoadBalance: the three fields, keys stripped and lowercased
    answer = as_json(x, dict)
    if answer is None:
        return None
    got = {str(k).strip().lower(): as_number(v) for k, v in answer.items()}
    nums = _numbers([got.get(f) for f in FIELDS], lambda v: v)
    return None if nums is None else ((), nums)


def _loads_truth(y):
    if not isinstance(y, dict) or any(f not in y for f in FIELDS):
        return None
    nums = _numbers([y[f] for f in FIELDS], _number)
    return None if nums is None else ((), nums)


_EXACT: dict[Callable, tuple[Callable, Callable]] = {
    AnyMatch.check: (_parsed(_parse_bool), _bare),
    ChecksumXor.check: (_parsed(_parse_int), _bare),
    Median.check: (_parsed(as_number), _bare),
    GraphComponents.check: (_parsed(as_number), _bare),
    GlobalDistinct.check: (_parsed(as_number), _bare),
    TopK.check: (lambda x: hashable(as_int_list(x)), _top_k_truth),
    DifferenceArray.check: (_list_answer, _list_truth),
    MergeNeighbours.check: (_list_answer, _list_truth),
    ListRanking.check: (_ranks_answer, _ranks_truth),
    BfsDistance.check: (_bfs_answer, _list_only),
    MatrixMultiply.check: (_matrix_answer, _list_only),
}

_NEAR: dict[Callable, tuple[Callable, Callable, Callable[[TaskSpec], float | tuple]]] = {
    TaskSpec.check: (_scalar, _scalar, lambda t: t.tolerance + 1e-9),
    MovingAverage.check: (_window_answer, _window_truth, lambda t: t.tolerance + 1e-9),
    KMeansStep.check: (_centroids_answer, _centroids_truth, lambda t: t.tolerance + 1e-9),
    CollabFiltering.check: (_triples_answer, _triples_truth, lambda t: t.tolerance + 1e-9),
    PageRankStep.check: (_ranks_vector_answer, _ranks_vector_truth, lambda t: t.tolerance + 1e-12),
    LoadBalance.check: (_loads_answer, _loads_truth,
                        lambda t: tuple((t.tolerance if f == "variance" else 0) + 1e-9 for f in FIELDS)),
}

_SAME_HELPERS = {KMeansStep.check: KMeansStep._same, CollabFiltering.check: CollabFiltering._same,
                 PageRankStep.check: PageRankStep._same}  # checkers that call self._same: it must be theirs


def lookup_for(task: TaskSpec, pairwise: Callable) -> Lookup | None:
    """A Lookup for a task whose checker these keys describe, else None (the checks are made pairwise)."""
    check = type(task).check
    helper = _SAME_HELPERS.get(check)
    if helper is not None and type(task)._same is not helper:
        return None
    if check in _EXACT:
        return Lookup(_EXACT[check], Exact, pairwise)
    if check in _NEAR and (check is not TaskSpec.check or task.tolerance):
        answer, truth, tol = _NEAR[check]
        tols = tol(task)
        return Lookup((answer, truth), lambda: Near(tols), pairwise)
    return None
