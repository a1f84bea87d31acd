"""Level III tasks (III-21 .. III-30): solvers against independent definitions, generators, checkers, decisions."""

from __future__ import annotations

import importlib
import json
import math
import random
import re
import statistics
from fractions import Fraction
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silo.evidence import parse
from silo.tasks import all_tasks, get_task
from silo.tasks.base import TaskSpec, partial_ordered

LEVEL3 = [t for t in all_tasks() if t.level == 3]
# imported only after the registry loaded: importing a task module first would leave the registry partial
_t21 = importlib.import_module("silo.tasks.common")
ordered_partial, ordered_partial_by, ordered_partial_numbers = (
    _t21.ordered_partial, _t21.ordered_partial_by, _t21.ordered_partial_numbers)
IDS = [f"III-{k}" for k in range(21, 31)]
seeds = st.integers(0, 10**6)
small_n = st.integers(1, 6)


def inst_of(task_id: str, n: int, seed: int):
    return get_task(task_id).make_instance(n, seed)


def flat(inst) -> list:
    return [x for s in inst.shards for x in s.data]


def envelope(sender: int, kind: str, data) -> str:
    """Content as the scripted channel writes it."""
    return json.dumps({"from": sender, "to": 0, "kind": kind, "data": data}, separators=(",", ":"))


# ---- registry and contract ---------------------------------------------------------------------------------------

def test_all_ten_registered_with_attributes():
    assert sorted(t.id for t in LEVEL3) == IDS
    for t in LEVEL3:
        assert isinstance(t, TaskSpec) and t.level == 3 and t.version >= 1
        assert t.oracle == "star" and "all-to-all" in t.optimal_topology
        assert t.optimal_messages(5) == 20 and t.optimal_messages(1) == 0
        assert isinstance(t.hint, str) and len(t.hint) > 20
        assert t.answer_kind == ("segmented" if t.id == "III-21" else "global")


@pytest.mark.parametrize("task_id", IDS)
def test_deterministic_json_and_role_agnostic(task_id):
    t = get_task(task_id)
    for n in (1, 2, 7):
        a, b = t.make_instance(n, 11), t.make_instance(n, 11)
        assert a.model_dump() == b.model_dump()
        assert t.make_instance(n, 12).model_dump() != a.model_dump()
        assert len(a.shards) == len(a.truth) == n
        json.loads(a.model_dump_json())  # JSON-serialisable throughout
        words = set(re.findall(r"[a-z]+", a.description.lower()))
        leaks = {"topology", "star", "coordinator", "leader", "gather", "broadcast", "send", "shuffle", "reduce"}
        assert not words & leaks, (task_id, words & leaks)


@pytest.mark.parametrize("task_id", IDS)
@settings(max_examples=15, deadline=None)
@given(seed=seeds, n=small_n)
def test_oracle_combine_equals_solve(task_id, seed, n):
    t = get_task(task_id)
    inst = t.make_instance(n, seed)
    parts = [json.loads(json.dumps(t.partial(s.data, s.agent, inst.params))) for s in inst.shards]
    assert t.combine(parts, inst.params) == inst.truth
    for truth in inst.truth:
        assert t.check(truth, truth) == (True, 1.0)
        assert t.check(json.dumps(truth), truth)[0]  # a JSON string of the answer is accepted


@pytest.mark.parametrize("task_id", IDS)
def test_messages_fit_the_limit_at_n100(task_id):
    t = get_task(task_id)
    inst = t.make_instance(100, 0)
    sizes = [len(envelope(0, "answer", a)) for a in inst.truth]
    sizes += [len(envelope(s.agent, "partial", t.partial(s.data, s.agent, inst.params))) for s in inst.shards]
    sizes += [len(envelope(s.agent, "shard", s.data)) for s in inst.shards]
    assert max(sizes) < 65536


@pytest.mark.parametrize("task_id", IDS)
def test_evidence_recognises_oracle_and_gossip_content(task_id):
    t = get_task(task_id)
    for n in (2, 3, 6):
        inst = t.make_instance(n, 5)
        everyone = frozenset(range(n))
        for s in inst.shards[1:]:
            j = frozenset({s.agent})
            raw = parse(envelope(s.agent, "shard", s.data))
            fps = [t.raw_fingerprint(inst, s.agent, 0), t.stat_fingerprint(inst, j, 0)]
            assert any(f is not None and not f.weak and f.matches(raw) for f in fps), (n, s.agent)
            part = parse(envelope(s.agent, "partial", t.partial(s.data, s.agent, inst.params)))
            fps = [*fps, *(t.stat_fingerprint(inst, c, 0) for c in t.candidate_sets(inst, j, 0))]
            assert any(f is not None and not f.weak and f.matches(part) for f in fps), (n, s.agent)
        ans = parse(envelope(0, "answer", inst.truth[1]))
        assert t.stat_fingerprint(inst, everyone, 1).matches(ans)


@pytest.mark.parametrize("task_id", IDS)
def test_evidence_of_one_shard_is_not_found_in_another_shard(task_id):
    t = get_task(task_id)
    for n, seed in product((3, 6), (0, 1)):
        inst = t.make_instance(n, seed)
        for j in range(n):
            fps = [t.raw_fingerprint(inst, j, 0), t.stat_fingerprint(inst, frozenset({j}), 0)]
            fps = [f for f in fps if f is not None and not f.weak]
            assert fps, (n, j)
            for k in set(range(n)) - {j}:
                other = parse(envelope(k, "shard", inst.shards[k].data))
                assert not any(f.matches(other) for f in fps), (n, seed, j, k)


# ---- ordered partial credit ----------------------------------------------------------------------------------------

def _lcs(a, b):
    if not a or not b:
        return 0
    if a[0] == b[0]:
        return 1 + _lcs(a[1:], b[1:])
    return max(_lcs(a[1:], b), _lcs(a, b[1:]))


@settings(max_examples=200, deadline=None)
@given(a=st.lists(st.integers(0, 3), max_size=7), b=st.lists(st.integers(0, 3), min_size=1, max_size=7))
def test_ordered_partial_is_lcs_over_truth_length(a, b):
    assert ordered_partial(a, b) == pytest.approx(_lcs(a, b) / len(b))
    assert ordered_partial(a, b) == pytest.approx(partial_ordered(a, b))


@settings(max_examples=200, deadline=None)
@given(a=st.lists(st.integers(0, 6), max_size=7), b=st.lists(st.integers(0, 6), min_size=1, max_size=7))
def test_tolerant_and_custom_partials_are_lcs_under_their_matching(a, b):
    tol = 1.0  # values within 1 match: compare against the DP with the same relation
    near = lambda x, y: abs(x - y) <= tol  # noqa: E731
    assert ordered_partial_numbers(a, b, tol) == pytest.approx(_lcs_by(a, b, near) / len(b))
    assert ordered_partial_by(a, b, near) == pytest.approx(_lcs_by(a, b, near) / len(b))


def _lcs_by(a, b, same):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for x in range(len(a)):
        for y in range(len(b)):
            table[x + 1][y + 1] = table[x][y] + 1 if same(a[x], b[y]) else max(table[x][y + 1], table[x + 1][y])
    return table[-1][-1]


def test_ordered_partial_long_lists_with_one_error_is_fast_and_exact():
    truth = list(range(5000))
    assert ordered_partial([-1, *truth[1:]], truth) == pytest.approx(4999 / 5000)
    assert ordered_partial(truth[:2500], truth) == 0.5
    assert ordered_partial([], truth) == 0.0
    # a premature-style answer (own shard only) against a long truth: scattered matches, still fast
    rng = random.Random(3)
    guess = [rng.choice([-1, 2, 3, 4]) for _ in truth]
    assert 0 < ordered_partial(guess, truth) < 0.01
    floats = [k / 1e6 for k in range(800)]
    assert ordered_partial_numbers([x + 1e-6 for x in floats], floats, 1e-6) == 1.0
    assert ordered_partial_numbers(["x", *floats[1:]], floats, 1e-6) == pytest.approx(799 / 800)


# ---- III-21 distributed sort ------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=small_n)
def test_sort_slices_concatenate_to_sorted_input(seed, n):
    inst = inst_of("III-21", n, seed)
    assert all(len(s.data) == 20 and all(1 <= v <= 1000 for v in s.data) for s in inst.shards)
    assert [v for sl in inst.truth for v in sl] == sorted(flat(inst))
    assert [len(sl) for sl in inst.truth] == [20] * n


def test_sort_slices_follow_shard_sizes_and_remainder_goes_last():
    t = get_task("III-21")
    assert t.solve([[5, 1], [4, 2], [9, 3, 0]], {}) == [[0, 1], [2, 3], [4, 5, 9]]
    assert t.solve([[5], [4, 2, 7], [9, 3]], {}) == [[2], [3, 4, 5], [7, 9]]  # as long as each shard


def test_sort_check_parsing_and_partial():
    t = get_task("III-21")
    truth = list(range(1, 21))
    assert t.check(" " + json.dumps(truth), truth) == (True, 1.0)
    assert t.check([str(v) for v in truth], truth)[0]
    assert t.check(truth[::-1], truth) == (False, pytest.approx(1 / 20))
    assert t.check(truth[:10], truth) == (False, 0.5)
    assert t.check("not a list", truth) == (False, 0.0)
    assert t.check([1.5] * 20, truth) == (False, 0.0)


# ---- III-22 median -------------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=small_n)
def test_median_is_the_rank_len_div_2_element(seed, n):
    inst = inst_of("III-22", n, seed)
    xs = flat(inst)
    m = inst.truth[0]
    k = len(xs) // 2  # m is the element of rank k: fewer than k+1 below it, at least k+1 at or below it
    assert sum(x < m for x in xs) <= k < sum(x <= m for x in xs)
    assert all(len(s.data) == 25 for s in inst.shards)


def test_median_even_count_takes_upper_middle():
    t = get_task("III-22")
    assert t.solve([[1, 2], [3, 4]], {}) == [3, 3]
    assert t.check("3", 3) == (True, 1.0) and t.check(3.5, 3) == (False, 0.0) and t.check(True, 1)[0] is False


# ---- III-23 graph components ---------------------------------------------------------------------------------------

def flood_components(n_nodes: int, edges) -> int:
    adj = {v: set() for v in range(n_nodes)}
    for u, v in edges:
        adj[u].add(v)
        adj[v].add(u)
    seen, count = set(), 0
    for s in range(n_nodes):
        if s not in seen:
            count += 1
            stack = [s]
            while stack:
                x = stack.pop()
                if x not in seen:
                    seen.add(x)
                    stack.extend(adj[x] - seen)
    return count


@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=small_n)
def test_components_against_flood_fill(seed, n):
    inst = inst_of("III-23", n, seed)
    edges = flat(inst)
    assert inst.params["n_nodes"] == 10 * n and len(edges) == 20 * n
    assert all(u != v and 0 <= u < 10 * n and 0 <= v < 10 * n for u, v in edges)
    assert inst.truth == [flood_components(10 * n, edges)] * n


def test_components_v2_count_is_planted_and_spread():
    t = get_task("III-23")
    for n in (2, 10):
        counts = [t.make_instance(n, seed).truth[0] for seed in range(80)]
        assert all(1 <= c <= 8 * n for c in counts) and len(set(counts)) >= 10
    assert max(get_task("III-23@1").make_instance(2, seed).truth[0] for seed in range(80)) < 8  # v1: a giant one


def test_components_isolated_nodes_count():
    t = get_task("III-23")
    assert t.solve([[[0, 1]], [[2, 3]]], {"n_nodes": 6}) == [4, 4]  # {0,1} {2,3} {4} {5}


# ---- III-24 BFS distance -------------------------------------------------------------------------------------------

def relax_distances(n_nodes: int, edges) -> list[int]:
    inf = math.inf
    d = [0] + [inf] * (n_nodes - 1)
    for _ in range(n_nodes):  # Bellman-Ford with unit weights
        for u, v in edges:
            d[v] = min(d[v], d[u] + 1)
            d[u] = min(d[u], d[v] + 1)
    return [-1 if x == inf else int(x) for x in d]


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_bfs_against_bellman_ford(seed, n):
    inst = inst_of("III-24", n, seed)
    edges = flat(inst)
    assert len(edges) <= 16 * n and len({frozenset(e) for e in edges}) == len(edges)
    assert all(u != v and 0 <= u < 8 * n and 0 <= v < 8 * n for u, v in edges)
    assert [len(s.data) for s in inst.shards[:-1]] == [len(edges) // n] * (n - 1)
    assert inst.truth[0] == relax_distances(8 * n, edges)


def test_bfs_check_accepts_node_keyed_object_and_gives_lcs_partial():
    t = get_task("III-24")
    truth = [0, 1, 2, -1]
    assert t.check({"0": 0, "1": 1, "2": 2, "3": -1}, truth) == (True, 1.0)
    assert t.check(json.dumps({"3": -1, "0": 0, "1": 1, "2": 2}), truth)[0]
    assert t.check({"0": 0, "1": 1}, truth) == (False, 0.0)  # an object must cover every node
    assert t.check([0, 1, 2, 5], truth) == (False, 0.75)
    assert t.solve([[[0, 1]], [[1, 2]]], {"n_nodes": 4}) == [truth, truth]


# ---- III-25 k-means step -------------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_kmeans_against_float_lloyd(seed, n):
    inst = inst_of("III-25", n, seed)
    pts, cents = flat(inst), inst.params["centroids"]
    assert len(pts) == 20 * n and all(0 <= c <= 100 for p in pts for c in p)
    assert len({tuple(c) for c in cents}) == 3 and all(c in pts for c in cents)
    groups = [[] for _ in cents]
    for p in pts:
        groups[min(range(3), key=lambda k: (math.dist(p, cents[k]), k))].append(p)
    for (x, y), g in zip(inst.truth[0], groups, strict=True):
        assert g, "generated clusters start non-empty"
        assert abs(x - statistics.fmean(p[0] for p in g)) <= 0.005 + 1e-9
        assert abs(y - statistics.fmean(p[1] for p in g)) <= 0.005 + 1e-9


def test_kmeans_ties_go_to_lowest_centroid_and_empty_cluster_stays():
    t = get_task("III-25")
    params = {"k": 3, "centroids": [[0.0, 0.0], [2.0, 0.0], [50.0, 50.0]]}
    # (1, 0) is equidistant from centroids 0 and 1: it joins 0; centroid 2 gets nothing and stays put
    assert t.solve([[[1.0, 0.0], [3.0, 0.0]]], params) == [[[1.0, 0.0], [3.0, 0.0], [50.0, 50.0]]]


def test_kmeans_check_tolerance_and_partial():
    t = get_task("III-25")
    truth = [[1.0, 2.0], [3.5, 4.25], [10.0, 0.01]]
    assert t.check([[1.01, 1.99], ["3.5", 4.25], [10, 0]], truth) == (True, 1.0)
    assert t.check([[1.02, 2.0], [3.5, 4.25], [10.0, 0.01]], truth) == (False, pytest.approx(2 / 3))
    assert t.check("[[1, 2]]", truth) == (False, pytest.approx(1 / 3))
    assert t.check({"a": 1}, truth) == (False, 0.0)


# ---- III-26 global distinct ----------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=small_n)
def test_distinct_count(seed, n):
    inst = inst_of("III-26", n, seed)
    xs = flat(inst)
    assert len(xs) == 30 * n and all(0 <= x < 15 * n for x in xs)
    assert inst.truth == [len(set(xs))] * n


# ---- III-27 collaborative filtering --------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_collab_filtering_against_float_brute_force(seed, n):
    inst = inst_of("III-27", n, seed)
    ents = flat(inst)
    users = {e["id"]: e["vec"] for e in ents if e["kind"] == "user"}
    items = {e["id"]: e["vec"] for e in ents if e["kind"] == "item"}
    assert sorted(users) == sorted(items) == list(range(3 * n)) and all(len(s.data) == 6 for s in inst.shards)
    # exact dot products (Fractions of the 4-dp entries): a float sum can land on either side of a rounding tie
    scores = sorted(((sum(Fraction(str(a)) * Fraction(str(b)) for a, b in zip(users[u], items[i], strict=True)), u, i)
                     for u, i in product(users, items)), key=lambda x: (-x[0], x[1], x[2]))
    truth = inst.truth[0]
    assert [[u, i] for _, u, i in scores[:3]] == [[u, i] for u, i, _ in truth]
    assert all(round(s, 4) == s and abs(Fraction(str(s)) - x) <= Fraction(1, 20000)
               for (x, _, _), (_, _, s) in zip(scores, truth, strict=False))  # the exact score rounded to 4 dp


def test_collab_filtering_ties_and_checker():
    t = get_task("III-27")
    ents = [{"kind": "user", "id": 1, "vec": [1, 0, 0, 0, 0]}, {"kind": "user", "id": 0, "vec": [1, 0, 0, 0, 0]},
            {"kind": "item", "id": 5, "vec": [0.5, 0, 0, 0, 0]}, {"kind": "item", "id": 2, "vec": [0.5, 0, 0, 0, 0]}]
    truth = t.solve([ents], {})[0]
    assert truth == [[0, 2, 0.5], [0, 5, 0.5], [1, 2, 0.5]]  # equal scores: lower user, then lower item
    assert t.check([[0, 2, 0.50009], {"user": 0, "item": 5, "score": 0.5}, ["1", "2", "0.5"]], truth)[0]
    assert t.check([[0, 2, 0.5002], [0, 5, 0.5], [1, 2, 0.5]], truth) == (False, pytest.approx(2 / 3))
    assert t.check([[0, 5, 0.5], [0, 2, 0.5], [1, 2, 0.5]], truth) == (False, pytest.approx(2 / 3))


# ---- III-28 PageRank step -------------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_pagerank_against_float_formula(seed, n):
    inst = inst_of("III-28", n, seed)
    edges = flat(inst)
    m = 8 * n
    assert len(edges) <= 16 * n and len({tuple(e) for e in edges}) == len(edges) and all(u != v for u, v in edges)
    out = [sum(1 for u, _ in edges if u == x) for x in range(m)]
    expect = [0.15 / m + 0.85 * sum(1 / m / out[u] for u, v in edges if v == x) for x in range(m)]
    assert all(abs(a - b) <= 5e-7 + 1e-12 for a, b in zip(inst.truth[0], expect, strict=True))


def test_pagerank_dangling_mass_is_not_redistributed():
    t = get_task("III-28")
    # 0 -> 1, 0 -> 2, 1 -> 2; node 2 is dangling. n = 3, r0 = 1/3.
    ranks = t.solve([[[0, 1], [0, 2]], [[1, 2]]], {"n_nodes": 3})[0]
    r = [Fraction(1, 20), Fraction(1, 20) + Fraction(85, 100) * Fraction(1, 6),
         Fraction(1, 20) + Fraction(85, 100) * (Fraction(1, 6) + Fraction(1, 3))]
    assert ranks == [float(round(x, 6)) for x in r]
    assert sum(ranks) < 1  # node 2's rank is not passed on


def test_pagerank_checker():
    t = get_task("III-28")
    truth = [0.05, 0.191667, 0.475]
    assert t.check([0.050001, "0.191666", 0.475], truth) == (True, 1.0)
    assert t.check({"0": 0.05, "1": 0.191667, "2": 0.475}, truth)[0]
    assert t.check([0.05, 0.191669, 0.475], truth) == (False, pytest.approx(2 / 3))


# ---- III-29 load balance --------------------------------------------------------------------------------------------

def scan_lpt(weights_by_id: dict[int, int], machines: int) -> list[int]:
    loads = [0] * machines
    for tid in sorted(weights_by_id, key=lambda k: (-weights_by_id[k], k)):
        loads[loads.index(min(loads))] += weights_by_id[tid]
    return loads


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_load_balance_against_scan_lpt(seed, n):
    inst = inst_of("III-29", n, seed)
    tasks = flat(inst)
    assert sorted(k for k, _ in tasks) == list(range(20 * n))
    assert all((50 <= w <= 100) if k % 10 == 0 else (1 <= w <= 10) for k, w in tasks)
    assert all(k % 10 for s in inst.shards[1:] for k, _ in s.data)  # agent 0 holds every heavy task
    loads = scan_lpt(dict(tasks), n)
    want = {"variance": round(statistics.pvariance(loads), 2), "max_load": max(loads), "min_load": min(loads)}
    got = inst.truth[0]
    assert got["max_load"] == want["max_load"] and got["min_load"] == want["min_load"]
    assert abs(got["variance"] - want["variance"]) <= 0.01


def test_load_balance_hand_example_and_checker():
    t = get_task("III-29")
    # weights 7,5,4,3,3 on 2 machines: 7->m0, 5->m1, 4->m1 (9), 3->m0 (10), 3->m1 (12): loads 10, 12
    ans = t.solve([[[0, 7], [1, 5]], [[2, 4], [3, 3], [4, 3]]], {"machines": 2})[0]
    assert ans == {"variance": 1.0, "max_load": 12, "min_load": 10}
    assert t.check('{"variance": "1.01", "max_load": 12, "min_load": 10.0}', ans) == (True, 1.0)
    assert t.check({"Variance": 1.0, "max_load": 11, "min_load": 10}, ans) == (False, pytest.approx(2 / 3))
    assert t.check([1.0, 12, 10], ans) == (False, 0.0)


def test_load_balance_evidence_hooks():
    """Raw: each [id, weight] adjacent (a numbered table of sorted weights lists every id but pairs none);
    an unnamed combined summary is found from its weights; the answer's fields in any order."""
    t = get_task("III-29")
    inst = inst_of("III-29", 5, 3)
    data = inst.shards[2].data
    raw = t.raw_fingerprint(inst, 2, 0)
    assert raw.matches(parse(json.dumps(data))) and raw.matches(parse(json.dumps(list(reversed(data)))))
    weights = sorted((w for j in (1, 2, 3) for _, w in inst.shards[j].data), reverse=True)
    table = "| # | value |\n|---|---|\n" + "\n".join(f"| {k} | {w} |" for k, w in enumerate(weights))
    assert not raw.matches(parse(table))  # ids 0..53 and the weights are all there, as index and values only
    sets = t.stat_sets(inst, parse("Combined summary: " + json.dumps(weights)), frozenset(range(5)), 0)
    assert frozenset({1, 2, 3}) in sets
    assert t.stat_fingerprint(inst, frozenset({1, 2, 3}), 0).matches(parse(table))
    truth = inst.truth[0]
    said = f"min_load: {truth['min_load']}; variance: {truth['variance']}; max_load: {truth['max_load']}"
    assert t.stat_fingerprint(inst, frozenset(range(5)), 0).matches(parse("The answer is " + said))
    wrong = said.replace(str(truth["max_load"]), str(truth["max_load"] + 1))
    assert not t.stat_fingerprint(inst, frozenset(range(5)), 0).matches(parse("The answer is " + wrong))


# ---- III-30 matrix multiply -----------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=small_n)
def test_matmul_against_triple_loop(seed, n):
    inst = inst_of("III-30", n, seed)
    a = [s.data["a"] for s in inst.shards]
    b = inst.params["b"]
    assert [s.data["row"] for s in inst.shards] == list(range(n))
    assert all(1 <= x <= 10 for row in a + b for x in row) and len(b) == n
    c = [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    assert inst.truth == [c] * n
    assert json.dumps(b, separators=(",", ":")) in inst.description  # B is public, in the statement


def test_matmul_checker_partial_is_per_row_lcs():
    t = get_task("III-30")
    truth = [[1, 2], [3, 4], [5, 6]]
    assert t.check(json.dumps(truth), truth) == (True, 1.0)
    assert t.check([[1, 2], [3, 5], [5, 6]], truth) == (False, pytest.approx(2 / 3))
    assert t.check([[5, 6]], truth) == (False, pytest.approx(1 / 3))


def test_matmul_small_rows_need_their_index():
    t = get_task("III-30")
    inst = t.make_instance(2, 0)
    fp = t.raw_fingerprint(inst, 1, 0)
    assert not fp.weak and fp.values[0] == 1  # a 2-number row is only recognised after its row index
    row = inst.shards[1].data["a"]
    assert not fp.matches(parse(json.dumps(row))) and fp.matches(parse(f"row 1: {row}"))

