"""Level I (aggregation) tasks: solvers against independent definitions, generators, checkers, evidence."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silo.evidence import parse
from silo.tasks import get_task

LEVEL1 = [f"I-{k:02d}" for k in range(1, 11)]
SEEDS = settings(max_examples=60, deadline=None)


def _msg(sender, data, kind="partial", to=0):
    """A message as the scripted channel writes it."""
    return json.dumps({"from": sender, "to": to, "kind": kind, "data": data}, separators=(",", ":"))


def _shards(task, n, seed):
    return task.generate(n, random.Random(seed))


# ---- generic contract --------------------------------------------------------------------------

@pytest.mark.parametrize("tid", LEVEL1)
def test_contract_attributes(tid):
    t = get_task(tid)
    assert t.level == 1 and t.answer_kind == "global" and t.oracle == "star"
    assert isinstance(t.hint, str) and "star" in t.hint
    inst = t.make_instance(5)
    for word in ("star", "reduce", "send", "centre", "center", "leader", "coordinator"):
        assert word not in inst.description.lower(), f"description leaks the topology: {word}"


@pytest.mark.parametrize("tid", LEVEL1)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_generation_is_deterministic(tid, n):
    t = get_task(tid)
    assert t.make_instance(n, 3) == t.make_instance(n, 3)
    assert t.make_instance(n, 3).shards != t.make_instance(n, 4).shards
    json.dumps(t.make_instance(n, 3).model_dump(mode="json"))  # JSON-serialisable


@pytest.mark.parametrize("tid", LEVEL1)
@given(n=st.integers(1, 8), seed=st.integers(0, 10**6))
@SEEDS
def test_star_reduce_equals_solve(tid, n, seed):
    t = get_task(tid)
    shards, params = _shards(t, n, seed)
    parts = [t.partial(d, a, params) for a, d in enumerate(shards)]
    json.dumps(parts)
    assert t.combine(parts, params) == t.solve(shards, params)


@pytest.mark.parametrize("tid", LEVEL1)
@pytest.mark.parametrize("n", [2, 5, 20])
def test_evidence_recognises_partials_raw_and_answer(tid, n):
    t = get_task(tid)
    inst = t.make_instance(n, 1)
    everyone = frozenset(range(n))
    for j in range(n):
        fp = t.stat_fingerprint(inst, frozenset({j}), 0)
        assert fp is not None and not fp.weak, (j, fp)
        assert fp.matches(parse(_msg(j, t.partial(inst.shards[j].data, j, inst.params))))
        raw = t.raw_fingerprint(inst, j, 0)
        assert raw is not None and not raw.weak
        assert raw.matches(parse(_msg(j, inst.shards[j].data, "shard", None)))
    fp = t.stat_fingerprint(inst, everyone, 0)
    assert fp.matches(parse(_msg(0, inst.truth[0], "answer", None)))


@pytest.mark.parametrize("tid", LEVEL1)
def test_partials_do_not_cross_match(tid):
    """False-positive guard: agent k's partial rarely passes for agent j's statistic."""
    t = get_task(tid)
    inst = t.make_instance(30, 2)
    texts = [parse(_msg(k, t.partial(inst.shards[k].data, k, inst.params))) for k in range(30)]
    hits = sum(t.stat_fingerprint(inst, frozenset({j}), 0).matches(texts[k])
               for j in range(30) for k in range(30) if j != k)
    assert hits / (30 * 29) <= 0.02


@pytest.mark.parametrize("tid", LEVEL1)
def test_wrong_answer_is_rejected(tid):
    t = get_task(tid)
    inst = t.make_instance(3)
    assert t.check(inst.truth[0], inst.truth[0]) == (True, 1.0)
    assert t.check(None, inst.truth[0]) == (False, 0.0)
    assert t.check("no idea", inst.truth[0]) == (False, 0.0)


# ---- I-07 average --------------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_average_matches_statistics_mean(n, seed):
    t = get_task("I-07")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert all(len(s) == 25 for s in shards)
    assert all(0 <= v <= 100 and round(v, 2) == v for v in values)
    (answer, *rest) = t.solve(shards, params)
    assert rest == [answer] * (n - 1)
    assert abs(answer - statistics.mean(values)) <= 0.005 + 1e-9
    assert round(answer, 2) == answer


def test_average_hand_computed():
    t = get_task("I-07")
    assert t.solve([[1.0, 2.0], [3.0, 4.5]], {}) == [2.62] * 2  # 10.5 / 4 = 2.625, exact in binary: half-even -> 2.62
    assert t.solve([[10.0, 20.0, 30.0]], {}) == [20.0]


def test_average_checker_tolerance_and_parsing():
    t = get_task("I-07")
    assert t.check(49.37, 49.37)[0]
    assert t.check("49.38", 49.37)[0] and t.check(49.36, 49.37)[0]
    assert not t.check(49.39, 49.37)[0]
    assert t.check(" 49.37 ", 49.37) == (True, 1.0)
    assert t.check(True, 1.0) == (False, 0.0)


def test_average_evidence_guards():
    t = get_task("I-07")
    inst = t.make_instance(4, 0)
    data = inst.shards[2].data
    fp = t.stat_fingerprint(inst, frozenset({2}), 0)
    mean = round(math.fsum(data) / len(data), 2)
    assert fp.matches(parse(f"my average is {mean}"))
    assert fp.matches(parse(f"sum {round(math.fsum(data), 1)} over 25 numbers"))
    assert not fp.matches(parse(f"sum {round(math.fsum(data) + 0.5, 2)}, mean {round(mean + 0.02, 2)}"))
    assert not fp.matches(parse("count 25"))


# ---- I-02 word frequency --------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_word_frequency_counts_apples(n, seed):
    t = get_task("I-02")
    shards, params = _shards(t, n, seed)
    words = [w for s in shards for w in s]
    assert [len(s) for s in shards] == [30] * n
    assert set(words) <= {"apple", "banana", "cherry", "grape", "kiwi", "mango", "peach"}
    assert all(words[p] == "apple" for p in range(0, len(words), 10))  # planted: every 10th global word
    assert t.solve(shards, params) == [words.count("apple")] * n


def test_word_frequency_hand_computed_and_checker():
    t = get_task("I-02")
    params = {"word": "apple", "vocabulary": ["apple", "banana", "cherry", "grape", "kiwi", "mango", "peach"]}
    assert t.solve([["apple", "kiwi"], ["kiwi", "apple", "apple"]], params) == [3, 3]
    assert t.check("3", 3) == (True, 1.0) and t.check(3.0, 3) == (True, 1.0)
    assert t.check(4, 3) == (False, 0.0)


def test_word_frequency_evidence_needs_the_whole_count_vector():
    t = get_task("I-02")
    inst = t.make_instance(3, 0)
    data = inst.shards[1].data
    fp = t.stat_fingerprint(inst, frozenset({1}), 0)
    counts = [data.count(f) for f in inst.params["vocabulary"]]
    assert fp.matches(parse("counts: " + ", ".join(map(str, counts))))
    assert not fp.matches(parse(f"I have {data.count('apple')} apples"))  # a lone small count proves nothing
    backwards = parse("counts: " + ", ".join(map(str, reversed(counts))))
    assert counts == counts[::-1] or not fp.matches(backwards)


# ---- I-03 distributed vote ------------------------------------------------------------------------

def _plurality(votes):
    """Independent definition: most votes, ties to the alphabetically first name."""
    return sorted(set(votes), key=lambda c: (-votes.count(c), c))[0]


@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_vote_winner_is_plurality(n, seed):
    t = get_task("I-03")
    shards, params = _shards(t, n, seed)
    votes = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [25] * n
    assert set(votes) <= {"Alice", "Bob", "Carol", "Dave"}
    tally = statistics.multimode(votes)
    assert len(tally) == 1  # v2: the winner leads strictly
    assert t.solve(shards, params) == [_plurality(votes)] * n == [tally[0]] * n


@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_vote_v1_forces_every_second_vote(n, seed):
    t = get_task("I-03@1")
    shards, params = _shards(t, n, seed)
    votes = [v for s in shards for v in s]
    assert len({votes[p] for p in range(0, len(votes), 2)}) == 1  # every 2nd vote forced to one winner
    assert t.solve(shards, params) == [_plurality(votes)] * n
    assert _plurality(votes) == votes[0]  # the forced majority wins


def test_vote_local_leaders_disagree_with_the_winner():
    """v2: a shard's own leader is the winner about 1/4 + 1/(N+1) of the time, not always (v1)."""
    t = get_task("I-03")
    for n, top in ((2, 0.66), (10, 0.42)):
        same = total = 0
        for seed in range(150):
            inst = t.make_instance(n, seed)
            for s in inst.shards:
                same += _plurality(s.data) == inst.truth[0]
                total += 1
        assert 0.15 < same / total < top, (n, same / total)
        assert same / total <= t.inherent_chance(n) + 0.08


@given(votes=st.lists(st.sampled_from(["Alice", "Bob", "Carol", "Dave"]), min_size=1, max_size=40),
       cut=st.integers(0, 40))
@SEEDS
def test_vote_ties_go_to_alphabetically_first(votes, cut):
    t = get_task("I-03")
    shards = [votes[:cut], votes[cut:]]
    assert t.solve(shards, {})[0] == _plurality(votes)


def test_vote_hand_computed_and_checker():
    t = get_task("I-03")
    assert t.solve([["Dave", "Bob"], ["Bob", "Dave"]], {}) == ["Bob", "Bob"]  # 2-2 tie -> Bob
    assert t.solve([["Dave", "Dave", "Alice"]], {}) == ["Dave"]
    assert t.check("alice", "Alice") == (True, 1.0)
    assert t.check(' "Alice" ', "Alice") == (True, 1.0)
    assert t.check("Bob", "Alice") == (False, 0.0)


def test_vote_evidence_raw_words():
    t = get_task("I-03")
    inst = t.make_instance(2, 0)
    raw = t.raw_fingerprint(inst, 1, 0)
    assert raw.matches(parse(inst.shards[1].text))
    assert not raw.matches(parse("Alice Bob Carol Dave"))


# ---- I-05 range count -----------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_range_count_brute_force(n, seed):
    t = get_task("I-05")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [30] * n and all(0 <= v <= 1000 for v in values)
    assert params == {"lo": 100, "hi": 500}
    assert t.solve(shards, params) == [len([v for v in values if 100 <= v <= 500])] * n


def test_range_count_bounds_are_inclusive():
    t = get_task("I-05")
    params = {"lo": 100, "hi": 500}
    assert t.solve([[99, 100, 500, 501], [0, 1000, 300]], params) == [3, 3]
    assert t.partial([99, 100, 500, 501], 0, params) == {"below": 1, "inside": 2, "above": 1}
    assert t.check("3", 3) == (True, 1.0) and t.check(2, 3) == (False, 0.0)


# ---- I-06 checksum XOR ----------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_xor_brute_force(n, seed):
    t = get_task("I-06")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [20] * n and all(0 <= v <= 255 for v in values)
    acc = 0
    for v in values:
        acc ^= v
    assert t.solve(shards, params) == [acc] * n


def test_xor_hand_computed_and_tolerant_checker():
    t = get_task("I-06")
    assert t.solve([[0b1010, 0b0110], [0b0001]], {}) == [0b1101] * 2
    assert t.partial([3, 1], 0, {}) == {"xor": 2, "bit_counts": [2, 1, 0, 0, 0, 0, 0, 0]}
    for ok in (13, "13", 13.0, "0x0d", "0XD", "0b1101"):
        assert t.check(ok, 13) == (True, 1.0), ok
    for bad in (12, "0xzz", "13.5", True, None):
        assert t.check(bad, 13) == (False, 0.0), bad


def test_xor_evidence_ignores_a_bare_byte():
    t = get_task("I-06")
    inst = t.make_instance(3, 0)
    fp = t.stat_fingerprint(inst, frozenset({2}), 0)
    x = t.partial(inst.shards[2].data, 2, {})["xor"]
    assert not fp.matches(parse(f"my xor is {x}"))


# ---- I-04 any match -------------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_any_match_brute_force_and_log_shape(n, seed):
    t = get_task("I-04")
    shards, params = _shards(t, n, seed)
    lines = [line for s in shards for line in s]
    stamps = [int(line[1:line.index("]")]) for line in lines]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # one global, increasing clock
    for s in shards:
        n_err = sum(" ERROR: " in line for line in s)
        assert (len(s), n_err) in ((15, 0), (16, 1))  # 15 ordinary lines, at most one ERROR inserted
    assert t.solve(shards, params) == [any(" ERROR: " in line for line in lines)] * n


@pytest.mark.parametrize("key,n,p", [("I-04", 2, 2 / 3), ("I-04", 10, 10 / 19), ("I-04@2", 2, 0.5),
                                     ("I-04@2", 10, 0.5)])
def test_any_match_has_at_most_one_error_line_and_the_stated_rate(key, n, p):
    t = get_task(key)
    answers = []
    for seed in range(400):
        inst = t.make_instance(n, seed)
        errors = sum(len(s.data) == 16 for s in inst.shards)
        assert errors in (0, 1) and inst.truth[0] == (errors == 1)
        answers.append(inst.truth[0])
    assert abs(sum(answers) / len(answers) - p) < 0.08  # v3: p = N / (2N - 1); v2: 0.5 at every N


def test_any_match_v1_is_one_coin_per_shard():
    t = get_task("I-04@1")
    errors = [sum(len(s.data) == 16 for s in t.make_instance(10, seed).shards) for seed in range(100)]
    assert max(errors) > 1 and 4 < sum(errors) / len(errors) < 6


def test_any_match_hand_computed_and_tolerant_checker():
    t = get_task("I-04")
    clean = ["[1700000001] INFO: job 1234 completed", "[1700000002] WARN: slow query took 55 ms"]
    bad = ["[1700000003] ERROR: payment 4411 timed out"]
    assert t.solve([clean, clean], {}) == [False, False]
    assert t.solve([clean, bad], {}) == [True, True]
    for ok in (True, "true", "True", " YES ", '"true"'):
        assert t.check(ok, True) == (True, 1.0), ok
    for ok in (False, "false", "No"):
        assert t.check(ok, False) == (True, 1.0), ok
    for wrong in (1, "1", "maybe", None, False):
        assert t.check(wrong, True) == (False, 0.0), wrong


def test_any_match_evidence_uses_timestamps_not_the_flag():
    t = get_task("I-04")
    inst = t.make_instance(4, 0)
    for j in range(4):
        data = inst.shards[j].data
        fp = t.stat_fingerprint(inst, frozenset({j}), 0)
        first, last = data[0][1:11], data[-1][1:11]
        assert fp.matches(parse(f"no ERROR between {first} and {last}"))
        if " ERROR: " not in data[-1]:  # an ERROR line's own timestamp does identify the shard
            assert not fp.matches(parse(f"no ERROR, last line {last}"))
        assert not fp.matches(parse("no errors here: false"))
        for line in data:
            if " ERROR: " in line:
                assert fp.matches(parse(f"found {line}"))


# ---- I-08 set union size --------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_set_union_size_brute_force(n, seed):
    t = get_task("I-08")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [30] * n and all(0 <= v < 15 * n for v in values)
    assert t.solve(shards, params) == [len(set(values))] * n


def test_set_union_size_hand_computed():
    t = get_task("I-08")
    assert t.solve([[1, 1, 2], [2, 3], [3]], {}) == [3, 3, 3]
    assert t.partial([5, 1, 5, 3], 0, {}) == [1, 3, 5]
    assert t.check("3", 3) == (True, 1.0) and t.check(4, 3) == (False, 0.0)


def test_set_union_evidence_is_the_whole_set():
    t = get_task("I-08")
    inst = t.make_instance(3, 0)
    distinct = sorted(set(inst.shards[1].data))
    fp = t.stat_fingerprint(inst, frozenset({1}), 0)
    assert fp.matches(parse(str(distinct[::-1])))
    assert not fp.matches(parse(str(distinct[1:])))
    assert not fp.matches(parse(f"I have {len(distinct)} distinct values"))


# ---- I-09 top-k ------------------------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_top_k_brute_force(n, seed):
    t = get_task("I-09")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [30] * n and all(1 <= v <= 1000 for v in values)
    expected = []
    rest = list(values)
    for _ in range(10):  # selection: repeatedly take the largest remaining entry
        expected.append(rest.pop(rest.index(max(rest))))
    assert t.solve(shards, params) == [expected] * n


def test_top_k_keeps_duplicates_and_checks_order():
    t = get_task("I-09")
    params = {"k": 3}
    assert t.solve([[5, 9, 1], [9, 2]], params) == [[9, 9, 5]] * 2
    truth = [998, 990, 990, 950, 900, 850, 800, 700, 600, 500]
    assert t.check(truth, truth) == (True, 1.0)
    assert t.check(json.dumps(truth), truth) == (True, 1.0)
    assert t.check([str(v) for v in truth], truth) == (True, 1.0)
    assert t.check(sorted(truth), truth) == (False, 0.0)  # ascending is wrong
    assert t.check(truth[:9], truth) == (False, 0.0)


# ---- I-10 standard deviation ---------------------------------------------------------------------

@given(n=st.integers(1, 6), seed=st.integers(0, 10**6))
@SEEDS
def test_std_dev_matches_pstdev(n, seed):
    t = get_task("I-10")
    shards, params = _shards(t, n, seed)
    values = [v for s in shards for v in s]
    assert [len(s) for s in shards] == [30] * n
    assert all(0 <= v <= 100 and round(v, 2) == v for v in values)
    answer = t.solve(shards, params)[0]
    assert abs(answer - statistics.pstdev(values)) <= 0.005 + 1e-6
    assert t.check(answer, round(statistics.pstdev(values), 2))[0]


def test_std_dev_hand_computed_population_not_sample():
    t = get_task("I-10")
    assert t.solve([[2.0, 4.0, 4.0, 4.0], [5.0, 5.0, 7.0, 9.0]], {}) == [2.0, 2.0]  # sample std would be 2.14
    assert t.solve([[3.0], [3.0]], {}) == [0.0, 0.0]
    assert t.check("2.01", 2.0)[0] and not t.check(2.02, 2.0)[0]


def test_std_dev_evidence_needs_both_moments():
    t = get_task("I-10")
    inst = t.make_instance(3, 0)
    data = inst.shards[2].data
    fp = t.stat_fingerprint(inst, frozenset({2}), 0)
    mean, std = statistics.mean(data), statistics.pstdev(data)
    total, sumsq = round(math.fsum(data), 2), round(math.fsum(v * v for v in data), 2)
    assert fp.matches(parse(f"n=30 sum={total} sumsq={sumsq}"))
    assert fp.matches(parse(f"mean {mean:.2f}, std {std:.2f}"))
    assert fp.matches(parse(f"mean {mean:.2f}, variance {std * std:.2f}"))
    assert not fp.matches(parse(f"mean {mean:.2f}"))
    assert not fp.matches(parse(f"sum {total}"))
