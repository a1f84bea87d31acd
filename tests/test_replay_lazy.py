"""The replay's lazy evidence (session 16): gains are noted and made into bits only where read (Replay._flush).

Every content's author state (up, pv, hist), every agent's evidence and every at_submit must be exactly those of
an eager replay, written here apart from the lazy one: evidence as plain sets grown per gain, the history
appended per gain, every message delivered through the general path (no inline gain).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from silo.agents.scripted import scripted_team
from silo.bitsets import bits_of, members
from silo.episode import run_episode
from silo.records import EpisodeConfig, deliveries
from silo.replay import HISTORY, PENDING_CAP, Replay, _Content
from silo.tasks import get_task


class Eager(Replay):
    """The replay with each gain made when it happens (sets, a list history), dispatching by name (no _ON)."""

    def __post_init__(self):
        super().__post_init__()
        self.es = [{a} for a in range(self._n)]
        self.eh: list[list[frozenset[int]]] = [[] for _ in range(self._n)]

    def run(self, events):
        for e in events:
            handler = getattr(self, f"_on_{e.kind}", None)
            if handler:
                handler(e)
            self._n_events += 1
        return self

    def _record(self, i, got, missing):
        assert got and got <= missing
        self.es[i] |= got
        missing -= got
        self.eh[i] = [*self.eh[i], frozenset(self.es[i])][-HISTORY:]

    def _on_deliver(self, e):
        for msg_id, sender in deliveries(e):
            sender = e.sender if sender is None else sender
            self._observe(e.agent, self._source(self._msgs, msg_id, e, "message", sender))

    def _content(self, e):
        a = e.agent
        up = self._rb[a]
        eb = bits_of(self.es[a])
        return _Content(a, e.round, e.content or "", up, eb | (up & ~self._db[a]), tuple(map(bits_of, self.eh[a])))

    def _on_submit(self, e):
        if e.agent not in self.at_submit:
            self.at_submit[e.agent] = (members(self._rb[e.agent]), frozenset(self.es[e.agent]))


def _episode(task: str, n: int, protocol: str, team: str, seed: int):
    spec = get_task(task)
    inst = spec.make_instance(n, seed)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team)
    return spec, inst, asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol))).events


def _state(c: _Content) -> tuple:
    return c.author, c.round, c.text, c.up, c.pv, c.hist


def _cells(k: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    tasks = ["I-01", "I-05", "II-11", "II-14", "III-21", "III-29"]
    protocols = ["broadcast", "p2p", "sfs", "blackboard", "p2p:grid", "broadcast+commit"]
    teams = ["gossip", "oracle", "miscompute", "premature", "smalltalk"]
    return [(rng.choice(tasks), rng.randint(3, 12), rng.choice(protocols), rng.choice(teams), rng.randrange(100))
            for _ in range(k)]


@pytest.mark.parametrize("cell", _cells(24, 16), ids=lambda c: "-".join(map(str, c)))
def test_lazy_replay_gives_the_eager_contents_evidence_and_submits(cell):
    spec, inst, events = _episode(*cell)
    lazy, eager = Replay(spec, inst).run(events), Eager(spec, inst).run(events)
    for store in ("_msgs", "_files"):
        got, want = getattr(lazy, store), getattr(eager, store)
        assert got.keys() == want.keys()
        assert all(_state(got[k]) == _state(want[k]) for k in want), (store, cell)
    assert lazy.at_submit == eager.at_submit
    assert [set(s) for s in lazy.evid] == eager.es
    assert [set(s) for s in lazy.reach] == [set(s) for s in eager.reach]


def test_the_eager_model_sees_gains_and_history():
    # the comparison above means something only where contents are made after gains, past HISTORY of them, and
    # where some gains are of several shards at once (a flood's relays of combined statistics)
    grouped = []

    class Counting(Eager):
        def _record(self, i, got, missing):
            grouped.append(len(got) > 1)
            super()._record(i, got, missing)

    spec, inst, events = _episode("III-29", 9, "p2p:grid", "miscompute", 61)
    eager = Counting(spec, inst).run(events)
    assert sum(len(c.hist) == HISTORY for c in eager._msgs.values()) > 10
    assert any(grouped) and not all(grouped) and eager.at_submit


def _eager_history(gains: list, start: set[int]) -> tuple[int, ...]:
    s, hist = set(start), []
    for g in gains:
        s |= {g} if isinstance(g, int) else set(g)
        hist.append(bits_of(s))
    return tuple(hist[-HISTORY:])


@pytest.mark.parametrize("m", [0, 1, 2, HISTORY, HISTORY + 1, 7, PENDING_CAP + 5])
@pytest.mark.parametrize("grouped", [False, True])
def test_a_flush_of_m_pending_gains_gives_the_eager_history(m, grouped):
    rng = random.Random(m * 2 + grouped)
    spec, inst, _ = _episode("I-01", 3, "broadcast", "silent", 0)
    rep = Replay(spec, inst)
    n = 1200
    rep._eb[0], rep._missing[0], rep._n = 1, set(range(1, n)), n  # (agent 0 of a replay widened to n shards)
    earlier = rng.sample([1, frozenset({2, 3}), 4], rng.randint(0, 2))  # a history before these gains, flushed
    shards = rng.sample(range(5, n), n - 5)
    gains: list = []
    while len(gains) < m:
        k = rng.choice([1, 1, 2, 3]) if grouped else 1
        g, shards = shards[:k], shards[k:]
        gains.append(g[0] if k == 1 else set(g))
    for g in earlier:
        rep._record(0, {g} if isinstance(g, int) else g, rep._missing[0])
        rep._flush(0)
    for g in gains:
        rep._record(0, {g} if isinstance(g, int) else g, rep._missing[0])
    if rep._pend[0]:
        rep._flush(0)
    assert rep._hist[0] == _eager_history(earlier + gains, {0})
    assert rep._eb[0] == (rep._hist[0][-1] if rep._hist[0] else 1)
    assert not rep._pend[0] and 0 not in rep._grouped


def test_contents_and_submit_see_every_gain_before_them():
    # a flush at each read: a gain, then a send, then more gains, then a submit
    spec, inst, _ = _episode("I-01", 3, "broadcast", "silent", 0)
    rep = Replay(spec, inst)
    rep._record(0, {1}, rep._missing[0])
    first = rep._content(type("E", (), {"agent": 0, "round": 1, "content": "x"})())
    assert first.hist == (0b11,) and first.pv & 0b11 == 0b11
    rep._record(0, {2}, rep._missing[0])
    assert rep.evid[0] == {0, 1, 2} and rep._hist[0] == (0b11, 0b111)
    assert first.hist == (0b11,)  # (a content made before a gain keeps the state it was made in)
