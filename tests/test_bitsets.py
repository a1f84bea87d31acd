"""The replay's sets as bits (silo.bitsets, issue 16 target 2): exact round trips, cache keys that hit exactly as the
sets would, and a flood's replay holding no large set per state (the memory the change is for)."""

import random

import pytest

from silo.agents.scripted import scripted_team
from silo.bitsets import KEY_SMALL, PLAIN_KEPT, Members, bits_of, key, members
from silo.episode import run_episode, run_sync
from silo.evidence import Value
from silo.evidence_text import parse
from silo.records import EpisodeConfig
from silo.replay import Replay, _Content
from silo.tasks import get_task
from silo.tasks.t01_global_max import NamedMax


def _sets(rng, count=300):
    for _ in range(count):
        n = rng.choice([1, 7, 64, 65, 300, 1000, 5000])
        yield frozenset(rng.sample(range(n), rng.randint(0, n)))


def test_bits_and_members_round_trip_any_set():
    rng = random.Random(1)
    for s in _sets(rng):
        b = bits_of(s)
        assert b == sum(2 ** j for j in s)  # (independent of bits_of's shifts)
        m = members(b)
        assert m == s and hash(m) == hash(s) and type(m) is Members and m.bits == b
        assert bits_of(m) == b and bits_of(sorted(s)) == b and bits_of(list(s)) == b
        assert set(m) == set(s) and len(m) == len(s)


def test_members_is_a_frozenset_and_its_algebra_gives_plain_frozensets():
    m = members(bits_of({1, 5, 9}))
    assert isinstance(m, frozenset) and m == {1, 5, 9} and {1, 5, 9} == m
    for got in (m | {2}, m & {1, 2}, m - {1}, m ^ {1}):
        assert type(got) is frozenset
    assert members(0) == frozenset() and members(1 << 70) == {70}


def test_keys_are_equal_exactly_when_the_sets_are():
    rng = random.Random(2)
    sets = list(dict.fromkeys(_sets(rng, 200)))
    keys = {}
    for s in sets:
        for form in (s, members(bits_of(s)), frozenset(sorted(s))):
            keys.setdefault(s, set()).add(key(form))
    assert all(len(k) == 1 for k in keys.values())  # one key per set, whatever its type
    flat = [next(iter(k)) for k in keys.values()]
    assert len(set(flat)) == len(flat)  # different sets, different keys
    small = [s for s in sets if len(s) <= KEY_SMALL]
    assert small and all(key(s) is s for s in small)
    assert all(isinstance(key(s), int) for s in sets if len(s) > KEY_SMALL)


def test_plain_large_sets_keep_exact_keys_past_the_identity_table():
    sets = [frozenset(range(k, k + KEY_SMALL + 1 + k % 7)) for k in range(PLAIN_KEPT + 100)]
    for _ in range(2):  # (the second pass: some keys from the table, some made again after it was dropped)
        assert [key(s) for s in sets] == [sum(2 ** j for j in s) for s in sets]


def _named_max_old(agents: frozenset[int], named: list[frozenset[int]], pair_ones: list[frozenset[int]]) -> bool:
    """NamedMax.matches' set test as the sets gave it before bits (value matched; pair sentences matched)."""
    return any(n <= agents and len(agents - n) <= 1 for n in named) or (
        len(agents) == 2 and any(one < agents for one in pair_ones))


@pytest.mark.parametrize("seed", range(3))
def test_named_max_on_bits_matches_as_on_sets(seed):
    rng = random.Random(seed)
    for _ in range(300):
        agents = frozenset(rng.sample(range(12), rng.randint(1, 6)))
        named = frozenset(rng.sample(range(14), rng.randint(2, 6)))
        if rng.random() < 0.3:
            named = frozenset(rng.sample(sorted(agents), max(1, len(agents) - rng.randint(0, 1)))) | {10 ** 9}
        ids = sorted(named)
        text = f"running max of agents {', '.join(map(str, ids))}: 4968."
        if len(agents) == 2 and rng.random() < 0.5:
            one = rng.choice(sorted(agents) + [13])
            text = f"Max of mine and agent {one}'s: 4968."
            expect = _named_max_old(agents, [], [frozenset({one})])
        else:
            expect = _named_max_old(agents, [named] if len(named) >= 2 else [], [])
        fp = NamedMax(Value(4968), bits_of(agents))
        assert fp.matches(parse(text)) == expect, (sorted(agents), text)
    assert not NamedMax(Value(4968), bits_of({1, 2})).matches(parse("agents 1, 2: 17"))  # the value must match


def test_a_huge_named_id_makes_no_huge_int():
    fp = NamedMax(Value(7), bits_of({1, 2, 3}))
    assert not fp.matches(parse("agents 1, 2 and 99999999999999999999: 7"))  # (2^(10^20) would not fit in memory)


def test_a_flood_replay_keeps_no_large_set_per_state():
    """I-01 gossip over a 10 x 10 grid: every content holds its author's sets as ints, and no key of the scorer's
    cache holds a set past KEY_SMALL members (before bits each state's reach, provenance and history were sets of
    up to N members, kept by the contents and by the fingerprints' keys: O(N^2) per round of a flood)."""
    spec = get_task("I-01")
    inst = spec.make_instance(100, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=100, protocol="p2p:grid", team="gossip", suite_seed=0)
    ep = run_sync(run_episode(inst, cfg, scripted_team("gossip", inst, "p2p:grid")))
    rep = Replay(spec, inst).run(ep.events)
    contents = list(rep._msgs.values())
    assert len(contents) > 1000 and all(type(c) is _Content for c in contents)
    assert any(c.up.bit_count() > KEY_SMALL for c in contents)  # (the flood has large states to keep small)
    for c in contents:
        assert type(c.up) is int and type(c.pv) is int and all(type(h) is int for h in c.hist)
        assert c.cands is None  # (a global task's content is searched once: nothing kept on it)
        assert all(len(s) <= KEY_SMALL for s in c.extra or ())

    def large_sets(x):
        if isinstance(x, frozenset | set):
            return len(x) > KEY_SMALL
        if isinstance(x, tuple):
            return any(map(large_sets, x))
        if isinstance(x, NamedMax):
            return large_sets(x.agents)
        return False
    assert not [k for k in rep._fp if large_sets(k)]
    assert not [v for v in rep._fp.values() if isinstance(v, NamedMax) and large_sets(v)]
    # and reach, evidence, at submit are the sets the bits say
    full = frozenset(range(100))
    assert all(rep.reach[a] == full for a in range(100)) and len(rep.evid) == 100
    assert all(r == full and e == full for r, e in rep.at_submit.values())
