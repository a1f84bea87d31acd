"""Sends to agents that already submitted: counted from the log, and told to the sender on request."""

from __future__ import annotations

import pytest

from silo.departed import departed_sends, messages_to_departed_only
from silo.episode import run_episode, run_sync
from silo.records import Action, Episode, EpisodeConfig, Event, Submission
from silo.tasks import get_task


def _send(rnd, agent, to):
    return Event(round=rnd, agent=agent, kind="send", action="send_message", to=to, content="hi", chars=2)


def test_departed_sends_on_a_hand_built_episode():
    inst = get_task("I-01").make_instance(4, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=4, protocol="p2p", team="llm")
    events = [_send(1, 0, [1]), _send(1, 2, [1]),  # round 1: nobody has left
              Event(round=1, agent=1, kind="submit", action="submit_result", args={"answer": 1}),
              _send(2, 0, [1]),  # 1 submitted in round 1: lost (counts)
              Event(round=2, agent=3, kind="submit", action="submit_result", args={"answer": 1}),
              _send(2, 2, [3]),  # 3 submits in this same round: nobody could know (does not count)
              _send(3, 2, [0, 1, 3]),  # a broadcast in round 3: 1 and 3 have left (two lost deliveries)
              _send(3, 0, [3]), _send(3, 0, [2])]  # one lost, one read
    ep = Episode(id="hand", config=cfg, instance=inst, events=events, status="max_rounds", rounds=3,
                 submissions=[Submission(agent=1, round=1, answer=1), Submission(agent=3, round=2, answer=1)])
    assert departed_sends(ep) == {0: 2, 1: 0, 2: 2, 3: 0}
    assert messages_to_departed_only(ep) == 2


class _Script:
    """Agent 0 submits in round 1; agent 1 sends to 0 in rounds 1 and 2 and records what it was told."""

    def __init__(self, me, told):
        self.me, self.told = me, told

    async def take_turn(self, turn):
        if self.me == 0:
            turn.do(Action(name="submit_result", args={"answer": 0}))
            return
        self.told.append(turn.do(Action(name="send_message", args={"target_id": 0, "content": "x"}))[1])
        if turn.round == 2:
            turn.do(Action(name="submit_result", args={"answer": 0}))
        turn.do(Action(name="wait"))


@pytest.mark.parametrize("tell", [False, True])
def test_tell_departed_option(tell):
    inst = get_task("I-01").make_instance(2, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=2, protocol="p2p", team="llm", max_rounds=3,
                        extra={"tell_departed": True} if tell else {})
    told: list = []
    ep = run_sync(run_episode(inst, cfg, [_Script(0, told), _Script(1, told)]))
    assert ep.status == "complete" and ep.config.extra.get("tell_departed", False) is tell  # recorded
    assert told[0] == {"ok": True, "message_id": 0}  # round 1: agent 0 has not left yet
    if tell:
        assert told[1] == {"ok": False, "message_id": 1, "departed": [0],
                           "note": "agent 0 has already submitted and will not read it"}
    else:
        assert told[1] == {"ok": True, "message_id": 1}
    assert departed_sends(ep) == {0: 0, 1: 1}  # counted the same either way


def test_analysis_tables_carry_departed_sends_and_roles():
    from silo.analysis import build_tables
    from silo.scoring import score_episode

    inst = get_task("I-01").make_instance(2, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=2, protocol="p2p", team="llm", max_rounds=3)
    ep = run_sync(run_episode(inst, cfg, [_Script(0, []), _Script(1, [])]))
    t = build_tables([score_episode(ep)], [ep], run="r")
    assert t.episodes["departed_sends"].to_list() == [1]
    assert t.agents.sort("agent")["departed_sends"].to_list() == [0, 1]
    assert t.agents["role"].to_list() == ["llm", "llm"]


def test_report_shows_roles_and_departed_sends(tmp_path):
    from silo.agents.partners import team_for
    from silo.analysis import build_tables
    from silo.report import build_report
    from silo.runner import resolve_models
    from silo.scoring import score_episode

    inst = get_task("I-01").make_instance(2, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=2, protocol="p2p", team="llm", max_rounds=3)
    gone = run_sync(run_episode(inst, cfg, [_Script(0, []), _Script(1, [])]))
    inst3 = get_task("I-01").make_instance(3, 0)
    mcfg = EpisodeConfig(task=inst3.task, n_agents=3, protocol="p2p", team="llm", max_rounds=3,
                         models=resolve_models(["0=scripted:gossip", "*=partner:informative"], 3))
    mixed = run_sync(run_episode(inst3, mcfg, team_for(inst3, mcfg)))
    t = build_tables([score_episode(gone), score_episode(mixed)], [gone, mixed], run="r")
    heads = [b.text for b in build_report(t, tmp_path, plots=False) if b.kind == "h2"]
    assert "By agent role" in heads and "Sends to departed agents" in heads
    t1 = build_tables([score_episode(mixed)], [mixed], run="r")
    heads = [b.text for b in build_report(t1, tmp_path, plots=False) if b.kind == "h2"]
    assert "By agent role" in heads and "Sends to departed agents" not in heads


class _Broadcaster:
    """Agent 0 submits in round 1; the others broadcast every round and submit in round 2."""

    def __init__(self, me, told):
        self.me, self.told = me, told

    async def take_turn(self, turn):
        if self.me == 0:
            turn.do(Action(name="submit_result", args={"answer": 0}))
            return
        self.told.append((self.me, turn.round, turn.do(Action(name="broadcast_message", args={"content": "x"}))[1]))
        if turn.round == 2:
            turn.do(Action(name="submit_result", args={"answer": 0}))
        turn.do(Action(name="wait"))


def test_tell_departed_on_broadcast_names_the_departed_and_stays_ok():
    inst = get_task("I-01").make_instance(3, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=3, protocol="broadcast", team="llm", max_rounds=3,
                        extra={"tell_departed": True})
    told: list = []
    ep = run_sync(run_episode(inst, cfg, [_Broadcaster(a, told) for a in range(3)]))
    late = [r for me, rnd, r in told if rnd == 2]
    assert [r["departed"] for r in late] == [[0], [0]] and all(r["ok"] for r in late)
    assert all("departed" not in r for me, rnd, r in told if rnd == 1)
    assert departed_sends(ep) == {0: 0, 1: 1, 2: 1} and messages_to_departed_only(ep) == 0
