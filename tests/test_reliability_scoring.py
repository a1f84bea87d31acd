"""Hostile answers never crash scoring: every task's check() over huge numbers, deep nesting, wrong types,
invalid code points; a recorded hostile episode is written and scored like any other."""

import asyncio
import json

import pytest

from silo import episode_io
from silo.records import Action, Episode, RunConfig
from silo.runner import RunDir, expand, run_specs, score_run
from silo.tasks import all_tasks


def _nested(depth, leaf, wrap):
    for _ in range(depth):
        leaf = wrap(leaf)
    return leaf


HOSTILE = [
    10**400, -(10**400), str(10**400), "1" * 5000, 1e308, float("inf"), float("nan"), "nan", "-inf", "1e999",
    _nested(900, 0, lambda x: [x]), _nested(900, 0, lambda x: {"a": x}), "[" * 900 + "]" * 900, None, True,
    [], {}, "", "\ud800", [10**400] * 3, [None, "x", {}], {"answer": 1}, [[1, 2], [3]], [float("nan")] * 3,
    "[1, 2", 3.5, -1, 2**63, [2**64, -(2**70)], {"1": 10**400}, ["\ud800"], [_nested(900, 0, lambda x: [x])],
    list(range(5000)), "x" * 100_000, [[10**400, 1]] * 3, {"a": [1, 2]}, [{"node": 1, "rank": 10**400}],
]


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_check_never_raises_on_hostile_answers(task):
    inst = task.make_instance(3, 0, 0)
    for ans in HOSTILE:
        for truth in inst.truth:
            ok, partial = task.check(ans, truth)
            assert isinstance(ok, bool) and 0.0 <= partial <= 1.0
            assert not ok or ans is not None  # a hostile value is never mistaken for the truth by accident
        assert task.check(inst.truth[0], inst.truth[0])[0]  # and the truth still checks


class _Hostile:
    """Agents that submit one hostile answer each and send it as a message first."""

    def __init__(self, answer):
        self.answer = answer

    async def take_turn(self, turn):
        if turn.round == 1 and turn.agent == 0:
            turn.do(Action(name="send_message", args={"target_id": 1, "content": str(self.answer)[:5000]}))
        turn.do(Action(name="submit_result", args={"answer": self.answer}))


@pytest.mark.parametrize("answer", [HOSTILE[0], HOSTILE[10], HOSTILE[11], "\ud800", {"\ud800": [1e999]}],
                         ids=["bigint", "deeplist", "deepdict", "surrogate", "surrogate-key"])
def test_hostile_episode_is_recorded_and_scored(tmp_path, answer):
    rc = RunConfig(tasks=["I-01", "I-06", "III-21"], n_agents=[2], protocols=["p2p"], teams=["oracle"])
    rd = RunDir(tmp_path / "r")
    rd.init(rc)
    out = asyncio.run(run_specs(expand(rc), rd, lambda inst, cfg: [_Hostile(answer) for _ in range(inst.n_agents)]))
    assert out.ran == 3
    scores = score_run(rd)
    assert len(scores) == 3 and all(s.status != "error" for s in scores)  # bounded, not lost
    assert all(a.submitted and not a.correct for s in scores for a in s.agents)
    text = "".join(episode_io.text(f) for f in rd.episode_files())
    assert "\ud800" not in text and len(text) < 2_000_000


def test_an_episode_the_scorer_cannot_read_marks_only_that_episode(tmp_path):
    from click.testing import CliRunner

    from silo.cli import main

    out = tmp_path / "r"
    args = ["run", "--team", "oracle", "--task", "I-01", "--n", "2", "--protocol", "p2p,broadcast", "--no-progress",
            "--no-preflight", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    f = episode_io.files(out / "episodes")[0]
    ep = episode_io.load_dict(f)
    ep["events"].append({"round": 1, "agent": 1, "kind": "deliver", "msg_id": 999})  # a message never sent
    episode_io.write(f.parent, Episode.model_validate(ep))
    scores = score_run(RunDir(out))
    bad = [s for s in scores if s.episode_id == ep["id"]]
    assert len(scores) == 2 and bad[0].status == "error" and "scoring failed" in bad[0].error
    assert [s.status for s in scores if s.episode_id != ep["id"]] == ["complete"]
    for cmd in (["score", str(out)], ["report", str(out), "-o", str(tmp_path / "rep")],
                ["view", str(out), "-o", str(tmp_path / "v.html")]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 0 and "Traceback" not in res.output, (cmd, res.output)


def test_wait_with_arguments_is_an_error_and_rejected_payloads_are_bounded():
    from silo.episode import SUBMIT, WAIT, Turn
    from silo.protocols import protocol_class
    from silo.records import Limits

    proto = protocol_class("p2p")(2, Limits(), {})
    turn = Turn(1, 0, proto, 5, [*proto.specs(), WAIT, SUBMIT])
    ok, msg = turn.do(Action(name="wait", args={"reason": "thinking"}))
    assert not ok and "no arguments" in msg and not turn.waited
    ok, _ = turn.do(Action(name="send_message", args={"target_id": 1, "content": "x" * 10_000_000}))
    assert not ok
    assert len(json.dumps([e.model_dump() for e in turn.events])) < 10_000  # not the 10 MB payload


def test_agents_of_an_errored_episode_carry_no_outcome():
    """An errored episode is not a wrong answer: no agent gets a class, and every table and view still reads it."""
    from silo.agents.scripted import scripted_team
    from silo.analysis import agent_rows, build_tables
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig
    from silo.scoring import score_episode
    from silo.tasks import get_task
    from silo.viewer import episode_view

    inst = get_task("I-01").make_instance(3, 0)
    cfg = EpisodeConfig(task="I-01", n_agents=3, protocol="broadcast", team="premature")
    ep = run_sync(run_episode(inst, cfg, scripted_team("premature", inst, "broadcast")))
    assert all(a.outcome is not None for a in score_episode(ep).agents)
    bad = ep.model_copy(update={"status": "error", "error": "model unreachable"})
    s = score_episode(bad)
    assert [a.outcome for a in s.agents] == [None, None, None] and s.success is None
    rows = agent_rows(s, "run", bad)
    assert all(r["outcome"] is None and "errored" in r["why"] for r in rows)
    assert build_tables([s], [bad]).episodes.get_column("status").to_list() == ["error"]
    assert episode_view(bad, s, 1000, 1000)[0]["outcomes"] == {}
