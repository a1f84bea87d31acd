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


def test_vote_winner_is_a_statement_not_a_tally_label():
    """I-03: the winner's name counts as the answer where it is stated ("Carol wins"), not as the label of a
    count in a tally that shares a sentence with "so far"."""
    t = get_task("I-03")
    inst = t.make_instance(10, 4)
    win = inst.truth[0]
    fp = t.stat_fingerprint(inst, frozenset(range(10)), 0)
    counts = t.partial(inst.shards[4].data, 4, inst.params)
    assert not any(f.matches(parse(f"Summary of agent 4's shard: {json.dumps(counts)} Everything I have so far:"))
                   for f in fp.parts[1:])
    assert any(f.matches(parse(f"The answer is {win}")) for f in fp.parts[1:])


def test_vote_unnamed_summary_only_where_its_tally_is_one_subsets():
    """I-03: an unnamed summary's set is credited only when no other subset of the author's shards has the
    same summed tally (tallies of about 9, 7, 5, 4 votes collide)."""
    t = get_task("I-03")
    ambiguous = 0
    for seed in range(40):
        inst = t.make_instance(5, seed)
        vec = {j: t.counts(inst.shards[j].data, inst.params) for j in range(5)}
        sums: dict = {}
        for mask in range(1, 32):
            s = frozenset(j for j in range(5) if mask >> j & 1)
            sums.setdefault(tuple(map(sum, zip(*(vec[j] for j in s), strict=True))), []).append(s)
        for total, sets in sums.items():
            if all(len(s) < 2 for s in sets):
                continue
            text = "Combined summary: " + json.dumps(dict(zip(inst.params["candidates"], total, strict=True)))
            got = t.stat_sets(inst, parse(text), frozenset(range(5)), 0)
            assert got == ([sets[0]] if len(sets) == 1 else []), (seed, total, sets, got)
            ambiguous += len(sets) > 1
    assert ambiguous > 0  # the collisions the rule is for do occur


def test_max_of_several_shards_needs_their_names_or_the_answer_stated():
    """I-01: an unnamed "combined summary: v" equals the max of every superset of the summarised shards that
    holds no larger value, so it shows a set of several shards only where it names them (a running max
    "after agents 0-3") or as the whole answer stated; not even for two (session 6: the pair an author once
    had evidence of is a guess, right about half the time)."""
    t = get_task("I-01")
    inst = t.make_instance(5, 0)
    mx = [max(s.data) for s in inst.shards]
    top = max(range(5), key=lambda j: mx[j])
    rest = sorted(j for j in range(5) if j != top)
    three = frozenset({top, rest[0], rest[1]})
    v = max(mx[j] for j in three)
    fp = t.stat_fingerprint(inst, three, 0)
    assert not fp.matches(parse(f"Combined summary: {v}"))
    names = ", ".join(map(str, sorted(three)))
    assert fp.matches(parse(f"Combined summary of agents {names}: {v}"))
    everyone = t.stat_fingerprint(inst, frozenset(range(5)), 0)
    assert not everyone.strict(parse(f"Combined summary: {inst.truth[0]}"))
    assert everyone.strict(parse(f"The global max is {inst.truth[0]}."))
    pair = t.stat_fingerprint(inst, frozenset({top, rest[0]}), 0)
    assert not pair.matches(parse(f"Combined summary: {mx[top]}"))
    assert pair.matches(parse(f"Combined summary of agents {min(top, rest[0])} and {max(top, rest[0])}: {mx[top]}"))
    other = rest[0]  # the pair's other agent named with the author's own, in the sentence stating the max
    assert pair.matches(parse(f"Max of mine and agent {other}'s: {mx[top]}"))
    assert not pair.matches(parse(f"Agent {other} sent me {mx[top]}."))
    assert not pair.matches(parse(f"Max of mine and agent {other}'s coming up. Combined summary: {mx[top]}"))


def test_pattern_summary_shared_by_two_pieces_is_whose_the_content_says():
    """II-15: a piece's six-number summary that another piece shares does not count where the content says
    it is that other agent's ("Summary of agent 5's shard: ..."); it still counts said of its own agent."""
    t = get_task("II-15")
    inst = t.make_instance(10, 38)
    summ = {j: t.partial(inst.shards[j].data, j, inst.params) for j in range(10)}
    pairs = [(j, k) for j in range(10) for k in range(10) if j != k and summ[j] == summ[k]]
    assert pairs
    j, k = pairs[0]
    fp = t.stat_fingerprint(inst, frozenset({j}), 0)
    assert not fp.matches(parse(f"Summary of agent {k}'s shard: {json.dumps(summ[k])}"))
    assert fp.matches(parse(f"Summary of agent {j}'s shard: {json.dumps(summ[j])}"))


def test_pattern_unnamed_summary_of_consecutive_pieces_is_found_once():
    """II-15: an unnamed "combined summary" of consecutive pieces is found from its six numbers (stat_sets), not
    from a wrong summary, and not where another run has the same six (a piece without A, B or C changes
    nothing: the summary of a..b is also that of a..b+1)."""
    t = get_task("II-15")
    flat = lambda s: [list(x) for x in t.partial(s, 0, {})]  # noqa: E731
    inst = t.make_instance(10, 55)
    data = [s.data for s in inst.shards]
    summ = flat(data[7] + data[8] + data[9])
    sets = t.stat_sets(inst, parse("Combined summary: " + json.dumps(summ)), frozenset(range(10)), 0)
    assert frozenset({7, 8, 9}) in sets
    assert frozenset({7, 8, 9}) not in t.stat_sets(inst, parse("Combined summary: " + json.dumps(summ)),
                                                   frozenset({7, 9}), 0)  # only runs within the evidence
    wrong = [[e, c + 1] for e, c in summ]
    assert frozenset({7, 8, 9}) not in t.stat_sets(inst, parse(json.dumps(wrong)), frozenset(range(10)), 0)
    seen = 0
    for seed in range(300):
        inst = t.make_instance(5, seed)
        data = [s.data for s in inst.shards]
        blank = [j for j in range(1, 5) if not set(data[j]) & set("ABC")]
        if not blank:
            continue
        j = blank[0]
        run = flat("".join(data[j - 1:j + 1]))
        assert run == flat(data[j - 1])  # the blank piece changes nothing
        assert frozenset({j - 1, j}) not in t.stat_sets(inst, parse(json.dumps(run)), frozenset(range(5)), 0)
        seen += 1
    assert seen  # such pieces occur
