"""Evidence hooks that keep coincidences from crediting a set (issue 12's held false positives, session 5):
each test builds content from the instance's own data, independently of the hook it checks."""

from __future__ import annotations

import json

from silo.evidence import parse
from silo.tasks import get_task


def test_distinct_set_not_shown_by_a_listing_of_every_possible_value():
    """III-26: "the possible values are 0, 1, ..., 149" lists every union and shows none; an unnamed
    summary of some of the shards is found from its values; a union in order still counts."""
    t = get_task("III-26")
    inst = t.make_instance(10, 7)
    top = inst.params["range_end"]
    group = frozenset({1, 4, 9})
    union = sorted({v for j in group for v in inst.shards[j].data})
    fp = t.stat_fingerprint(inst, group, 0)
    decoy = parse("For reference, the possible values are: " + ", ".join(map(str, range(top))) + ".")
    assert not fp.matches(decoy)
    assert fp.matches(parse("Combined summary: " + json.dumps(union)))
    shuffled = list(reversed(union))
    assert fp.matches(parse("values seen: " + ", ".join(map(str, shuffled))))
    sets = t.stat_sets(inst, parse("Combined summary: " + json.dumps(shuffled)), frozenset(range(10)), 0)
    assert any(s >= group for s in sets)


def test_edge_shards_are_their_edges_not_their_endpoints():
    """III-23 / III-24: a raw shard is its edges as adjacent numbers in either orientation, not the multiset
    of its endpoints (inside a bundle of the other shards' edges by chance); found in any layout."""
    for task, n, seed in (("III-24", 10, 1), ("III-23", 10, 16)):
        t = get_task(task)
        inst = t.make_instance(n, seed)
        edges = inst.shards[1].data
        raw = t.raw_fingerprint(inst, 1, 0)
        # the same endpoints, paired differently: the multiset of numbers is the shard's, the edges are not
        repaired = list(zip(sorted(u for u, _ in edges), sorted((v for _, v in edges), reverse=True), strict=True))
        assert not raw.matches(parse(json.dumps(repaired)))
        flipped = [[v, u] for u, v in reversed(edges)]
        csv = "u,v\n" + "\n".join(f"{u},{v}" for u, v in flipped)
        assert raw.matches(parse(csv)) and raw.matches(parse(json.dumps(edges)))


def test_components_set_needs_its_forest_or_partition_not_a_node_listing():
    """III-23: a set's statistic is its spanning forest, its components in order, or (8+ nodes) its touched
    nodes outside a listing of every node id; a few nodes of the largest group are not enough."""
    t = get_task("III-23")
    inst = t.make_instance(10, 0)
    group = frozenset({0, 5})
    edges = [e for j in sorted(group) for e in inst.shards[j].data]
    fp = t.stat_fingerprint(inst, group, 1)
    ids = ", ".join(map(str, range(inst.params["n_nodes"])))
    assert not fp.matches(parse(f"For reference, the node ids are: {ids}."))
    forest = t.partial(edges, 0, inst.params)
    assert fp.matches(parse("Combined summary: " + json.dumps([[v, u] for u, v in forest])))
    small = t.make_instance(10, 16)  # shard 9's edges touch only 4 nodes, all in the largest group
    touched = sorted({x for e in small.shards[9].data for x in e})
    assert len(touched) < 8
    assert not t.stat_fingerprint(small, frozenset({9}), 1).matches(parse(f"nodes seen: {touched} and 77"))
