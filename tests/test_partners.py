"""Partner probes: scripted partners inside an `llm` team, each landing in its designed class.

A scripted strategy (oracle, gossip) plays the "LLM" slot, so what the slot can do with what the
partners send is known; expected classes are derived from the instance (truth, depends_on, the liar's
shard), not from the scorer.
"""

from __future__ import annotations

import pytest

from silo.agents.partners import lie, team_for
from silo.episode import run_episode, run_sync
from silo.records import EpisodeConfig, EpisodeScore
from silo.runner import resolve_models
from silo.scoring import score_episode
from silo.tasks import get_task

TASKS = ["I-01", "I-07", "II-11", "II-14", "II-17", "III-21", "III-25"]
PROTOCOLS = ["p2p", "broadcast"]
N = 4


def run_mixed(task: str, protocol: str, models: list[str], n: int = N, max_rounds: int = 12):
    inst = get_task(task).make_instance(n, 3)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team="llm", suite_seed=3,
                        max_rounds=max_rounds, models=resolve_models(models, n))
    ep = run_sync(run_episode(inst, cfg, team_for(inst, cfg)))
    return inst, ep, score_episode(ep)


def slot0(s: EpisodeScore):
    return next(a for a in s.agents if a.agent == 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("strategy", ["gossip", "oracle"])
def test_informative_partners_make_the_slot_correct_and_held(task, protocol, strategy):
    inst, ep, s = run_mixed(task, protocol, [f"0=scripted:{strategy}", "*=partner:informative"])
    a = slot0(s)
    assert ep.status == "complete", (ep.status, ep.rounds)  # partners linger; done when the slot submitted
    assert (a.outcome, a.held, a.role) == ("correct", True, f"scripted:{strategy}")
    assert {x.role for x in s.agents if x.agent} == {"partner:informative"}
    assert all(x.outcome == "no_answer" for x in s.agents if x.agent)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("task", ["II-11", "II-20"])
def test_informative_chain_prefix_sends_the_carry(task, protocol):
    """The last position, an oracle, needs only the carry its partner predecessor computes."""
    _, ep, s = run_mixed(task, protocol, [f"{N - 1}=scripted:oracle", "*=partner:informative"])
    last = next(a for a in s.agents if a.agent == N - 1)
    assert (ep.status, last.outcome, last.held) == ("complete", "correct", True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("task", TASKS)
def test_relay_partners_pass_shards(task, protocol):
    _, ep, s = run_mixed(task, protocol, ["0=scripted:gossip", "*=partner:relay"])
    assert (ep.status, slot0(s).outcome, slot0(s).held) == ("complete", "correct", True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_relay_forwards_slot_messages(protocol):
    """Agents 0 and 2 are gossip; 1 and 3 relays: each gossip agent gets the other's shard twice or more."""
    _, ep, s = run_mixed("I-01", protocol, ["0=scripted:gossip", "2=scripted:gossip", "*=partner:relay"])
    fwd = [e for e in ep.events if e.kind == "send" and e.agent in (1, 3) and '"from":0' in (e.content or "")]
    assert fwd and all(e.content.startswith('{"from":0') for e in fwd)
    assert [a.outcome for a in s.agents if a.agent in (0, 2)] == ["correct", "correct"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_partners_leave_the_slot_without_answer(protocol):
    _, ep, s = run_mixed("I-03", protocol, ["0=scripted:gossip", "*=partner:silent"], max_rounds=5)
    assert not [e for e in ep.events if e.kind == "send" and e.agent]
    assert (ep.status, slot0(s).outcome) == ("max_rounds", "no_answer")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("task", TASKS)
def test_liar_gives_the_designed_class(task, protocol):
    """With agent 1 lying: correct if 0 does not depend on 1; else lucky if the lie leaves the answer right,
    relay_loss if not (every shard reached it, the liar's did not arrive)."""
    inst, ep, s = run_mixed(task, protocol, ["0=scripted:gossip", "1=partner:liar", "*=partner:informative"])
    spec = get_task(task)
    fake = lie(spec, inst, 1)
    assert fake != inst.shards[1].data
    shards = [sh.data for sh in inst.shards]
    shards[1] = fake
    answer = spec.solve(shards, inst.params)[0]
    right = spec.check(answer, inst.truth[0])[0]
    expected = "correct" if 1 not in spec.depends_on(inst, 0) else "lucky" if right else "relay_loss"
    assert ep.submissions[0].answer == answer
    assert slot0(s).outcome == expected
    assert slot0(s).reach == 1.0


def test_roles_survive_a_round_trip_and_default_for_scripted_teams():
    _, _, s = run_mixed("I-01", "p2p", ["0=scripted:gossip", "*=partner:informative"])
    back = EpisodeScore.model_validate_json(s.model_dump_json())
    assert [a.role for a in back.agents] == ["scripted:gossip"] + ["partner:informative"] * (N - 1)
    plain = s.model_copy(update={"team": "oracle", "agents": [a.model_copy(update={"role": None, "model": None})
                                                              for a in s.agents]})
    assert {a.role for a in EpisodeScore.model_validate(plain.model_dump()).agents} == {"scripted:oracle"}


def test_models_syntax_and_errors():
    assert resolve_models(["0=openai/x", "*=partner:informative"], 3) == ["openai/x"] + ["partner:informative"] * 2
    inst = get_task("I-01").make_instance(3, 0)
    for models, proto, msg in [(["partner:honest"], "p2p", "unknown partner 'honest'"),
                               (["scripted:chatty"], "p2p", "unknown scripted 'chatty'"),
                               (["0=scripted:gossip", "*=partner:relay"], "sfs", "partners talk over p2p")]:
        cfg = EpisodeConfig(task="I-01", n_agents=3, protocol=proto, team="llm", models=resolve_models(models, 3))
        with pytest.raises(ValueError, match=msg):
            team_for(inst, cfg)


def test_probe_summary_pairs_the_same_instances(tmp_path):
    """A scripted gossip agent stands in for the LLM: with informative partners it can use what it gets
    (1), with silent ones it cannot (0), with a liar among informative partners valid only where lucky."""
    from silo.probes import liar, markdown, paired
    from silo.records import RunConfig
    from silo.runner import RunDir, expand, run_specs, score_run

    def run(name, models):
        rc = RunConfig(tasks=["I-01", "I-07", "II-17"], n_agents=[3], protocols=["p2p", "broadcast"], teams=["llm"],
                       replicates=2, max_rounds=4, models=models)
        rd = RunDir(tmp_path / name)
        rd.init(rc)
        run_sync(run_specs(expand(rc), rd))
        score_run(rd)
        return rd.path

    mixed = run("mixed", ["0=scripted:gossip", "*=partner:informative"])
    usual = run("usual", ["0=scripted:gossip", "*=partner:silent"])
    lied = run("liar", ["1=partner:liar", "scripted:gossip"])
    rows = paired(mixed, usual, role="scripted:gossip")
    assert [(r["level"], r["protocol"], r["pairs"]) for r in rows] == [(1, "broadcast", 4), (1, "p2p", 4),
                                                                       (2, "broadcast", 2), (2, "p2p", 2)]
    assert all((r["can_use"], r["usual"], r["diff"], r["diff_lo"]) == (1.0, 0.0, 1.0, 1.0) for r in rows)
    lies = liar(lied, role="scripted:gossip")
    assert all(x["live"] == 1.0 and x["consensus"] == 1.0 for x in lies)  # gossip agents agree on the lie
    assert {x["level"]: x["valid"] for x in lies if x["protocol"] == "p2p"}[1] < 1.0
    assert "| 1 | p2p | 4 | 1.00 | 0.00 | 1.00 [1.00, 1.00] |" in markdown(rows, lies)


def test_partners_linger_through_the_cli_factory(tmp_path):
    """The factory `silo run` uses wraps LLM-team agents for the progress bar: partners still linger."""
    from silo.progress import instrumented
    from silo.records import RunConfig
    from silo.runner import expand, run_one

    rc = RunConfig(tasks=["I-01"], n_agents=[3], protocols=["p2p"], teams=["llm"], max_rounds=6,
                   models=["0=scripted:gossip", "*=partner:informative"])
    ep = run_sync(run_one(expand(rc)[0], instrumented()))
    assert (ep.status, ep.rounds) == ("complete", 2)
