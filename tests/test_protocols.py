"""Protocol semantics: round-synchronous visibility, ordering, and invalid actions as logged errors."""

import asyncio

import pytest

from silo.episode import Turn, run_episode
from silo.protocols import protocol_class
from silo.records import Action, EpisodeConfig, Limits
from silo.tasks import get_task


def _turn(proto, rnd, agent, budget=10):
    specs = proto.specs()
    return Turn(rnd, agent, proto, budget, specs)


def test_p2p_message_visible_only_next_round_in_sender_order():
    p = protocol_class("p2p")(3)
    t = _turn(p, 1, 0)
    t.do(Action(name="send_message", args={"target_id": 1, "content": "a"}))
    t.do(Action(name="send_message", args={"target_id": 1, "content": "b"}))
    t2 = _turn(p, 1, 1)
    assert t2.do(Action(name="receive_messages")) == (True, [])  # same round: not yet visible
    p.end_round(1)
    ok, msgs = _turn(p, 2, 1).do(Action(name="receive_messages"))
    assert [m["content"] for m in msgs] == ["a", "b"] and msgs[0]["from"] == 0
    assert _turn(p, 2, 2).do(Action(name="receive_messages")) == (True, [])  # private


def test_broadcast_reaches_everyone_but_the_sender():
    p = protocol_class("broadcast")(3)
    _turn(p, 1, 2).do(Action(name="broadcast_message", args={"content": "hi"}))
    p.end_round(1)
    for a, expected in ((0, 1), (1, 1), (2, 0)):
        ok, msgs = _turn(p, 2, a).do(Action(name="receive_messages"))
        assert len(msgs) == expected


def test_sfs_read_sees_previous_round_and_last_writer_wins_by_agent_order():
    p = protocol_class("sfs")(3)
    _turn(p, 1, 2).do(Action(name="write_file", args={"path": "x", "content": "from2"}))
    _turn(p, 1, 0).do(Action(name="write_file", args={"path": "x", "content": "from0"}))
    assert _turn(p, 1, 1).do(Action(name="read_file", args={"path": "x"}))[0] is False
    p.end_round(1)
    assert _turn(p, 2, 1).do(Action(name="read_file", args={"path": "x"})) == (True, "from2")
    _turn(p, 2, 0).do(Action(name="delete_file", args={"path": "x"}))
    assert _turn(p, 2, 1).do(Action(name="read_file", args={"path": "x"})) == (True, "from2")
    p.end_round(2)
    assert _turn(p, 3, 1).do(Action(name="list_files", args={"prefix": ""})) == (True, [])


BAD = [
    ("p2p", Action(name="send_message", args={"target_id": 7, "content": "x"}), "unknown agent 7"),
    ("p2p", Action(name="send_message", args={"target_id": 0, "content": "x"}), "yourself"),
    ("p2p", Action(name="send_message", args={"target_id": 1, "content": "x" * 101}), "too long"),
    ("p2p", Action(name="send_message", args={"target_id": "one", "content": "x"}), "must be integer"),
    ("p2p", Action(name="send_message", args={"content": "x"}), "missing argument 'target_id'"),
    ("p2p", Action(name="send_message", args={"target_id": 1, "content": "x", "cc": 2}), "unknown argument"),
    ("p2p", Action(name="teleport", args={}), "unknown action 'teleport'"),
    ("broadcast", Action(name="broadcast_message", args={"content": 5}), "must be string"),
    ("sfs", Action(name="write_file", args={"path": "/etc/passwd", "content": "x"}), "relative"),
    ("sfs", Action(name="write_file", args={"path": "a/../../b", "content": "x"}), "'..'"),
    ("sfs", Action(name="write_file", args={"path": "p" * 300, "content": "x"}), "path too long"),
    ("sfs", Action(name="write_file", args={"path": "a", "content": "x" * 101}), "too long"),
    ("sfs", Action(name="read_file", args={"path": "missing"}), "no such file"),
    ("sfs", Action(name="delete_file", args={"path": "missing"}), "no such file"),
]


@pytest.mark.parametrize("proto,action,needle", BAD, ids=[b[2] for b in BAD])
def test_invalid_action_is_an_error_returned_and_logged(proto, action, needle):
    p = protocol_class(proto)(2, Limits(max_message_chars=100, max_file_chars=100))
    t = _turn(p, 1, 0)
    ok, msg = t.do(action)
    assert not ok and needle in msg
    assert t.events[-1].kind == "error" and needle in t.events[-1].result


def test_submitting_twice_and_budget_exhaustion_are_errors():
    p = protocol_class("p2p")(2)
    t = _turn(p, 1, 0, budget=2)
    assert t.do(Action(name="submit_result", args={"answer": 1}))[0]
    ok, msg = t.do(Action(name="submit_result", args={"answer": 2}))
    assert not ok and "already submitted" in msg
    t = _turn(p, 1, 1, budget=1)
    t.do(Action(name="receive_messages"))
    ok, msg = t.do(Action(name="receive_messages"))
    assert not ok and "budget" in msg


class _Chaos:
    """An agent that only sends garbage, then submits."""

    async def take_turn(self, turn):
        turn.do(Action(name="send_message", args={"target_id": -1, "content": "x"}))
        turn.do(Action(name="nonsense", args={"a": 1}))
        turn.do(Action(name="submit_result", args={"answer": 1, "extra": 2}))
        turn.do(Action(name="submit_result", args={"answer": 1}))


def test_invalid_actions_never_crash_an_episode():
    inst = get_task("I-01").make_instance(2)
    cfg = EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="chaos")
    ep = asyncio.run(run_episode(inst, cfg, [_Chaos(), _Chaos()]))
    assert ep.status == "complete" and len(ep.submissions) == 2
    assert sum(e.kind == "error" for e in ep.events) == 6


class _Broken:
    async def take_turn(self, turn):
        raise RuntimeError("model server went away")


def test_agent_failure_ends_episode_as_error_not_wrong():
    from silo.scoring import score_episode

    inst = get_task("I-01").make_instance(2)
    cfg = EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="broken")
    ep = asyncio.run(run_episode(inst, cfg, [_Broken(), _Broken()]))
    assert ep.status == "error" and "model server went away" in ep.error
    s = score_episode(ep)
    assert s.success is None and s.partial is None and s.held is None
