"""The event log's delivery events: one per receive, listing what it delivered; old logs still read the same.

Episode schema 2 logs one `deliver` event per receive_messages / read_proposals call that delivered
something (msg_ids, senders in delivery order, chars = their total); schema 1 logged one per message.
Both shapes must score identically: checked here by rewriting logs from one shape into the other."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from silo.agents.scripted import scripted_team
from silo.episode import Turn, run_episode, run_sync
from silo.protocols import protocol_class
from silo.records import EPISODE_SCHEMA_VERSION, Action, Episode, EpisodeConfig, Event, deliveries
from silo.runner import RunDir
from silo.scoring import score_episode
from silo.tasks import get_task
from silo.viewer import build_view


def _turn(proto, rnd, agent):
    return Turn(rnd, agent, proto, 10, proto.specs())


def test_one_deliver_event_per_receive_in_delivery_order():
    p = protocol_class("p2p")(3)
    sent = {}
    for agent, text in ((2, "from two"), (1, "a"), (1, "bb")):
        ok, res = _turn(p, 1, agent).do(Action(name="send_message", args={"target_id": 0, "content": text}))
        sent[text] = res["message_id"]
    p.end_round(1)
    t = _turn(p, 2, 0)
    ok, msgs = t.do(Action(name="receive_messages"))
    delivers = [e for e in t.events if e.kind == "deliver"]
    assert ok and [m["content"] for m in msgs] == ["a", "bb", "from two"]  # sender id, then send order
    assert len(delivers) == 1
    d = delivers[0]
    assert d.senders == [1, 1, 2] and len(d.msg_ids) == 3 and d.chars == len("a") + len("bb") + len("from two")
    assert d.msg_id is None and d.sender is None and deliveries(d) == list(zip(d.msg_ids, d.senders, strict=True))
    assert d.msg_ids == [sent["a"], sent["bb"], sent["from two"]]
    t = _turn(p, 2, 0)
    assert t.do(Action(name="receive_messages")) == (True, [])
    assert [e.kind for e in t.events] == ["action"]  # a receive that delivers nothing logs no deliver


def test_read_proposals_logs_one_deliver_listing_the_new_proposals():
    p = protocol_class("broadcast+commit")(4)
    ids = [_turn(p, 1, a).do(Action(name="propose", args={"answer": a * 10}))[1]["proposal_id"] for a in (3, 1, 0)]
    p.end_round(1)
    t = _turn(p, 2, 0)
    t.do(Action(name="read_proposals"))
    (d,) = [e for e in t.events if e.kind == "deliver"]
    others = [(i, a) for i, a in zip(ids, (3, 1, 0), strict=True) if a != 0]  # its own proposal is not delivered
    assert sorted(deliveries(d)) == sorted(others) and d.chars == len("30") + len("10")
    t = _turn(p, 2, 0)
    t.do(Action(name="read_proposals"))
    assert [e.kind for e in t.events] == ["action"]  # nothing new: no deliver


def _per_message(ep: Episode) -> Episode:
    """The schema-1 shape of a log: every batched deliver split into one event per message."""
    events: list[Event] = []
    chars = {e.msg_id: e.chars for e in ep.events if e.kind == "send"}
    for e in ep.events:
        if e.kind == "deliver" and e.msg_ids is not None:
            events += [e.model_copy(update={"msg_ids": None, "senders": None, "msg_id": m, "sender": s,
                                            "chars": chars.get(m, 0)}) for m, s in deliveries(e)]
        else:
            events.append(e)
    return ep.model_copy(update={"events": events, "schema_version": 1})


def _batched(ep: Episode) -> Episode:
    """The schema-2 shape of a schema-1 log: consecutive delivers of one receive merged into one event."""
    events: list[Event] = []
    for e in ep.events:
        last = events[-1] if events else None
        if (e.kind == "deliver" and last is not None and last.kind == "deliver"
                and (last.round, last.agent, last.action) == (e.round, e.agent, e.action)):
            events[-1] = last.model_copy(update={"msg_ids": [*last.msg_ids, e.msg_id],
                                                 "senders": [*last.senders, e.sender], "chars": last.chars + e.chars})
        elif e.kind == "deliver":
            events.append(e.model_copy(update={"msg_ids": [e.msg_id], "senders": [e.sender], "msg_id": None,
                                               "sender": None}))
        else:
            events.append(e)
    return ep.model_copy(update={"events": events, "schema_version": EPISODE_SCHEMA_VERSION})


def _same_scores(a: Episode, b: Episode) -> None:
    sa, sb = score_episode(a).model_dump(), score_episode(b).model_dump()
    for s in (sa, sb):
        s["usage"].pop("latency_s")
    assert sa == sb


@pytest.mark.parametrize(("task", "protocol", "team"), [
    ("I-01", "broadcast", "gossip"), ("I-01", "p2p", "oracle"), ("II-11", "broadcast", "chatty"),
    ("III-21", "p2p", "gossip"), ("I-02", "broadcast+commit", "oracle"), ("I-03", "p2p:ring", "gossip"),
])
def test_batched_and_per_message_logs_score_the_same(task, protocol, team):
    inst = get_task(task).make_instance(6, 0)
    cfg = EpisodeConfig(task=task, n_agents=6, protocol=protocol, team=team, max_rounds=12)
    ep = run_sync(run_episode(inst, cfg, scripted_team(team, inst, protocol)))
    delivers = [e for e in ep.events if e.kind == "deliver"]
    assert ep.schema_version == EPISODE_SCHEMA_VERSION == 2 and delivers
    assert all(e.msg_ids and e.msg_id is None for e in delivers)
    receives = [(e.round, e.agent, e.action) for e in delivers]
    assert len(receives) == len(set(receives))  # at most one deliver per (round, agent, receive action)...
    old = _per_message(ep)
    assert len(old.events) > len(ep.events) or all(len(e.msg_ids) == 1 for e in delivers)
    _same_scores(ep, old)


def test_schema_1_episodes_score_as_the_old_code_scored_them(tmp_path):
    """tests/data/schema1_run: six episodes and their scores.jsonl, written by silo at c759050 (before
    batching: schema 1, one deliver per message). Today's code loads them, scores every row exactly as
    that code did, scores them batched the same, and views them."""
    run = tmp_path / "schema1_run"
    shutil.copytree(Path(__file__).parent / "data" / "schema1_run", run)
    old = {json.loads(x)["episode_id"]: json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()}
    eps = list(RunDir(run).episodes())
    assert len(eps) == len(old) == 6
    for ep in eps:
        assert ep.schema_version == 1 and any(e.kind == "deliver" and e.msg_id is not None for e in ep.events)
        now = score_episode(ep).model_dump(mode="json")
        want = dict(old[ep.id])
        for s in (now, want):
            s["usage"].pop("latency_s")
            s.pop("scorer_version")  # scorer 3 changed III-29's hooks only: these tasks score as under 2
            for a in s["agents"]:
                a.pop("role", None)  # filled on load from team and model
                a.pop("scorer_version")
        assert now == want
        new = _batched(ep)
        assert sum(e.kind == "deliver" for e in new.events) < sum(e.kind == "deliver" for e in ep.events)
        _same_scores(ep, new)
    view = build_view(run)
    assert {e["id"] for e in view["episodes"]} == set(old)
    heat = {k: sum(map(sum, d["heat"])) for k, d in view["details"].items()}
    assert all(heat[ep.id] >= sum(e.kind == "deliver" for e in ep.events) for ep in eps)
