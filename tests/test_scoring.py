"""Scoring on hand-built event logs whose reach, evidence and outcomes are known independently."""

import json

import pytest

from silo.records import Episode, EpisodeConfig, Event, Submission
from silo.scoring import classify, score_episode
from silo.tasks import get_task

INST = get_task("I-01").make_instance(3, suite_seed=11)
MAXES = [max(s.data) for s in INST.shards]
TRUTH = INST.truth[0]


def _send(rnd, a, to, mid, content):
    return Event(round=rnd, agent=a, kind="send", msg_id=mid, to=[to], content=content, chars=len(content))


def _deliver(rnd, a, mid, sender):
    return Event(round=rnd, agent=a, kind="deliver", msg_id=mid, sender=sender)


def _episode(events, answers, protocol="p2p"):
    subs = [Submission(agent=a, round=9, answer=v) for a, v in answers.items()]
    events = events + [Event(round=9, agent=a, kind="submit", args={"answer": v}) for a, v in answers.items()]
    cfg = EpisodeConfig(task="I-01", n_agents=3, protocol=protocol, team="hand")
    return Episode(id="hand", config=cfg, instance=INST, events=events, submissions=subs,
                   status="complete" if len(subs) == 3 else "max_rounds", rounds=9)


def _agents(ep):
    return {a.agent: a for a in score_episode(ep).agents}


def test_time_respecting_chain_composes():
    # 0 -> 1 in round 1; 1 (having read it) -> 2 in round 2: 2's causal past holds 0, 1 and 2
    m01 = max(MAXES[0], MAXES[1])
    ev = [_send(1, 0, 1, 0, json.dumps(INST.shards[0].data)), _deliver(2, 1, 0, 0),
          _send(2, 1, 2, 1, f"max of mine and agent 0: {m01}"), _deliver(3, 2, 1, 1)]
    a = _agents(_episode(ev, {2: max(m01, MAXES[2])}))
    assert a[2].reach == 1.0 and a[2].evidence == 1.0 and a[2].outcome == "correct"
    assert a[1].reach == pytest.approx(2 / 3)  # never heard from 2
    assert a[0].outcome == "no_answer"


def test_chain_out_of_time_order_does_not_reach():
    # 1 -> 2 in round 1, THEN 0 -> 1 in round 2: agent 0's data cannot have reached 2
    ev = [_send(1, 1, 2, 0, json.dumps(INST.shards[1].data)), _deliver(2, 2, 0, 1),
          _send(2, 0, 1, 1, json.dumps(INST.shards[0].data)), _deliver(3, 1, 1, 0)]
    a = _agents(_episode(ev, {2: TRUTH + 5}))
    assert a[2].reach == pytest.approx(2 / 3)
    assert a[2].outcome == "uninformed"


def test_reach_counts_only_read_messages():
    ev = [_send(1, 0, 2, 0, json.dumps(INST.shards[0].data)), _send(1, 1, 2, 1, json.dumps(INST.shards[1].data))]
    a = _agents(_episode(ev, {2: TRUTH}))  # delivered to the mailbox but never fetched
    assert a[2].reach == pytest.approx(1 / 3)
    assert a[2].outcome == "lucky"  # right answer without the information: flagged, not credited


def test_shared_file_chain_write_then_later_read():
    ev = [Event(round=1, agent=0, kind="write", path="d0", version=0, content=json.dumps(INST.shards[0].data)),
          Event(round=1, agent=1, kind="write", path="d1", version=1, content=json.dumps(INST.shards[1].data)),
          Event(round=2, agent=2, kind="read", path="d0", version=0, sender=0),
          Event(round=2, agent=2, kind="read", path="d1", version=1, sender=1)]
    a = _agents(_episode(ev, {2: TRUTH}, protocol="sfs"))
    assert a[2].held and a[2].outcome == "correct"
    s = score_episode(_episode(ev, {2: TRUTH}, protocol="sfs"))
    assert s.density == pytest.approx(2 / 6)  # two reads by another agent of files others wrote


def test_relay_loss_when_reached_but_information_absent():
    # agent 1 forwards a content-free note: 2 is reached by 0 and 1 but holds no evidence of them
    ev = [_send(1, 0, 1, 0, json.dumps(INST.shards[0].data)), _deliver(2, 1, 0, 0),
          _send(2, 1, 2, 1, "hello, I got something"), _deliver(3, 2, 1, 1)]
    a = _agents(_episode(ev, {2: TRUTH + 1}))
    assert a[2].reach == 1.0 and a[2].evidence < 1.0 and a[2].outcome == "relay_loss"


def test_weak_value_does_not_count_as_evidence():
    # a tiny integer equal to nothing meaningful never proves a shard arrived
    ev = [_send(1, 0, 2, 0, "I have 3 things"), _deliver(2, 2, 0, 0)]
    a = _agents(_episode(ev, {2: TRUTH}))
    assert a[2].evidence == pytest.approx(1 / 3)


def test_integration_error_when_everything_held_but_wrong():
    ev = []
    for j, mid in ((0, 0), (1, 1)):
        ev += [_send(1, j, 2, mid, json.dumps(INST.shards[j].data)), _deliver(2, 2, mid, j)]
    a = _agents(_episode(ev, {2: TRUTH - 1}))
    assert a[2].held and a[2].outcome == "integration_error"


def test_consensus_failure_and_unanimity():
    ev = []
    s = score_episode(_episode(ev, {0: TRUTH, 1: TRUTH, 2: TRUTH + 1}))
    assert s.consensus_failure and not s.unanimous and s.success == pytest.approx(2 / 3)
    s = score_episode(_episode(ev, {0: TRUTH, 1: str(TRUTH), 2: float(TRUTH)}))
    assert not s.consensus_failure and s.success == 1.0  # "984", 984.0 and 984 are one answer


@pytest.mark.parametrize("submitted,correct,reach,evidence,expected", [
    (False, False, 1.0, 1.0, "no_answer"),
    (True, True, 1.0, 1.0, "correct"),
    (True, True, 0.5, 1.0, "lucky"),
    (True, True, 1.0, 0.5, "lucky"),
    (True, False, 0.5, 0.5, "uninformed"),
    (True, False, 1.0, 0.5, "relay_loss"),
    (True, False, 1.0, 1.0, "integration_error"),
])
def test_outcome_classes_are_exclusive_and_complete(submitted, correct, reach, evidence, expected):
    assert classify(submitted, correct, reach, evidence) == expected


@pytest.mark.parametrize("protocol", ["p2p", "broadcast", "sfs"])
def test_a_hello_round_is_not_information(protocol):
    """The smalltalk team greets everyone (reach complete) and says nothing, then answers from its own shard:
    every agent that had to communicate is relay_loss when wrong and lucky when right, never held."""
    from silo.conformance import run_reference
    from silo.tasks import get_task

    seen = set()
    for task in ("I-01", "I-03", "I-04", "I-08", "II-11", "II-14", "III-21", "III-23", "III-26"):
        s = run_reference(task, protocol, 5, "smalltalk")
        inst = get_task(task).make_instance(5, 0)
        for a in s.agents:
            solo = get_task(task).depends_on(inst, a.agent) == {a.agent}
            assert a.reach == 1.0 and a.submitted, (task, a)
            allowed = {"correct"} if solo else {"relay_loss", "lucky"}
            assert a.outcome in allowed and (solo or not a.held), (task, protocol, a.agent, a.outcome)
            seen.add(a.outcome)
    assert "relay_loss" in seen


KEYED = [1, 1.0, True, "1", " 1", 0, 0.0, -0.0, False, None, "", [], {}, [1], [[1]], (1,), [1, 2], [2, 1],
         {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1.0, "b": 2}, 10**400, -(10**400), float("inf"), "x" * 5000,
         [True, 1], [1, True], {"1": 1}, {1: 1}]


def test_check_keys_tell_apart_every_value_repr_does():
    from silo.scoring import check_key

    keys = {}
    for a in KEYED:
        for t in (1, [1, 2]):
            keys.setdefault(check_key(a, t), set()).add((repr(a), repr(t)))
    assert all(len(reprs) == 1 for reprs in keys.values())  # one key, one (answer, truth) as repr sees it
    assert len(keys) == 2 * len(KEYED)
    # equal values built apart (as each agent's submission is parsed apart) share a key: the memo hits
    text = json.dumps([{"a": [1, 2.5, "x", None, True]}, 10**30, "mot"])
    assert check_key(json.loads(text), json.loads(text)) == check_key(json.loads(text), json.loads(text))


@pytest.mark.parametrize("task_id", ["I-01", "I-04", "II-11", "II-14", "III-21", "III-29"])
def test_the_memoised_check_agrees_with_the_checker_in_any_order(task_id):
    from silo.scoring import _memo_check
    from silo.tasks import get_task

    task = get_task(task_id)
    truths = get_task(task_id).make_instance(3, 0).truth
    deep = 0
    for _ in range(2500):  # deeper than marshal keys (2,000): checked unkeyed
        deep = [deep]
    answers = [*KEYED, *truths, *(json.loads(json.dumps(t)) for t in truths), deep, "yes", "true", "984"]
    want = [[_outcome(task.check, a, t) for t in truths] for a in answers]
    for order in (answers, answers[::-1]):
        check = _memo_check(task)
        got = {id(a): [_outcome(check, a, t) for t in truths] for a in order}
        assert [got[id(a)] for a in answers] == want


def _outcome(check, a, t):
    try:
        return check(a, t)
    except Exception as e:  # noqa: BLE001 - a checker that raises must raise the same through the memo
        return type(e).__name__


@pytest.mark.parametrize("bad,raising", [({0}, set()), ({1}, set()), ({2}, {0}), ({0}, {1}), (set(), {1})])
def test_a_checker_returning_invalid_fields_or_raising_fails_at_the_first_agent_that_does(monkeypatch, bad, raising):
    # the agents are validated together after the loop: the error must still be the first failing agent's own
    # (its AgentScore's validation error, or its checker's exception), as when each agent was validated in turn
    from pydantic import ValidationError

    from silo.score_jobs import score_safely

    task = get_task("I-01")
    answers = {0: "a0", 1: "a1", 2: "a2"}
    first = min(bad | raising)

    def check(answer, truth):
        a = int(answer[1])
        if a in raising:
            raise RuntimeError(f"checker broke at agent {a}")
        return ({"not a bool": a} if a in bad else False), 0.0
    monkeypatch.setattr(type(task), "check", staticmethod(check))
    ep = _episode([], answers)
    with pytest.raises(ValidationError if first in bad else RuntimeError) as e:
        score_episode(ep)
    if first in bad:
        assert e.value.title == "AgentScore" and e.value.errors()[0]["loc"] == ("correct",)
        assert e.value.errors()[0]["input"] == {"not a bool": first}
    else:
        assert str(e.value) == f"checker broke at agent {first}"
    row = score_safely(ep)
    assert row.status == "error" and str(e.value)[:100] in row.error


@pytest.mark.parametrize("team, models, roles", [
    ("llm", ["m-1", "partner:informative"], ["llm", "partner:informative", "llm"]),  # models cycle over agents
    ("llm", None, ["llm"] * 3),
    ("gossip", ["scripted:oracle"], ["scripted:oracle"] * 3),
    ("hand", None, ["scripted:hand"] * 3),
])
def test_each_agent_s_role_comes_from_its_team_and_model(team, models, roles):
    ep = _episode([], {0: TRUTH, 1: TRUTH, 2: TRUTH})
    ep = ep.model_copy(update={"config": ep.config.model_copy(update={"team": team, "models": models})})
    s = score_episode(ep)
    assert [a.role for a in s.agents] == roles
    assert [a.role for a in type(s).model_validate_json(s.model_dump_json()).agents] == roles
    errored = score_episode(ep.model_copy(update={"status": "error", "error": "x"}))
    assert [(a.role, a.outcome) for a in errored.agents] == [(r, None) for r in roles]
