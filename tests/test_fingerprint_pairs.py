"""Pairs and Edges (adjacent-number fingerprints) read the content's neighbouring pairs once per content and refuse
content with too few numbers up front: the same answers as matching every pair against a set made per call."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from silo.evidence import parse
from silo.evidence_text import _norm
from silo.tasks.t18_list_ranking import Pairs
from silo.tasks.t24_bfs_distance import Edges

_NUM = st.sampled_from([0, 1, 2, 3, 5, 1.0, 2.5, -1])


def _seen(p):
    return set(zip(p.numbers, p.numbers[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(_NUM, max_size=7), st.lists(st.tuples(_NUM, _NUM), max_size=4))
def test_adjacent_fingerprints_match_as_the_pairwise_definition(numbers, pairs):
    p = parse(" ".join(map(str, numbers)))
    seen = _seen(p)
    assert Pairs(tuple(pairs)).matches(p) == (bool(pairs) and all((_norm(a), _norm(b)) in seen for a, b in pairs))
    assert Edges(tuple(pairs)).matches(p) == (bool(pairs) and all(
        (_norm(u), _norm(v)) in seen or (_norm(v), _norm(u)) in seen for u, v in pairs))


def test_as_many_distinct_pairs_as_numbers_cannot_match_and_one_fewer_can():
    p = parse("[4, 7, 9]")
    assert Pairs(((4, 7), (7, 9))).matches(p)
    assert Pairs(((4, 7), (7, 9), (7, 9))).matches(p)  # a repeated pair needs no second position
    assert not Pairs(((4, 7), (7, 9), (9, 4))).matches(p)
