"""Compute-matched single agent (issue 17, point 5): budgets taken from the team, enforced per call, and the
RCC at equal budget (silo.matched). Model calls go to the fault server, whose usage is a known function of
the request (one prompt token per 4 characters of messages, 7 completion tokens)."""

import asyncio
import json

import pytest
from click.testing import CliRunner

from fault_server import FaultServer
from silo.analysis import load_runs
from silo.cli import main
from silo.matched import SPENT, equal_budget, markdown, pair_rows, report_blocks, without_matched
from silo.records import Episode, EpisodeConfig
from silo.runner import Budget, EpisodeSpec, RunDir, run_specs

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'


@pytest.fixture
def fault_key(monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")


def _cli(*args):
    return CliRunner().invoke(main, [*args, "--no-progress", "--no-preflight", "--no-cache"])


def _episodes(path) -> list[Episode]:
    return sorted(RunDir(path).episodes(), key=lambda e: e.id)


def _call_tokens(ep: Episode) -> list[int]:
    return [e.data["input_tokens"] + e.data["output_tokens"] for e in ep.events if e.kind == "model_call"]


def test_matched_single_agent_gets_the_team_total_and_stops_at_it(tmp_path, fault_key):
    team, matched = tmp_path / "team", tmp_path / "matched"
    with FaultServer() as fs:  # every reply is `wait`: agents spend tokens until max_rounds or their budget
        res = _cli("run", "--task", "I-01", "--n", "1,2", "--protocol", "broadcast", "--model", "openai/fault",
                   "--api-base", fs.base, "--api-key-env", "SILO_FAULT_KEY", "--replicates", "2",
                   "--max-rounds", "3", "--action-budget", "2", "-o", str(team))
        assert res.exit_code == 0, res.output
        team_calls = len(fs.requests)
        res = _cli("run", "--matched", str(team), "--max-rounds", "40", "-o", str(matched))
        assert res.exit_code == 0, res.output
        matched_calls = len(fs.requests) - team_calls
    teams = {e.id: e for e in _episodes(team) if e.config.n_agents == 2}
    usual = {e.instance.id for e in _episodes(team) if e.config.n_agents == 1}
    eps = _episodes(matched)
    assert len(teams) == 2 and len(eps) == 2  # one matched agent per team episode, none for the N = 1 ones
    assert matched_calls == sum(len(_call_tokens(e)) for e in eps)  # every request is in the logs
    for ep in eps:
        t = teams[ep.config.extra["matched_episode"]]
        budget = ep.config.extra["token_budget"]
        assert budget == sum(_call_tokens(t)) > 0  # exactly the team's total, recounted from its log
        assert ep.instance.n_agents == 1 and ep.instance.id in usual  # the usual baseline's instance
        assert ep.instance.replicate == t.config.replicate and ep.instance.task == t.instance.task
        spent = _call_tokens(ep)
        assert sum(spent[:-1]) < budget <= sum(spent)  # no call started once the budget was reached
        note = [e for e in ep.events if e.kind == "note" and "token_budget" in e.data]
        assert [n.data["token_budget"] for n in note] == [{"budget": budget, "used": sum(spent), "stopped": True}]
        last_call = max(e.round for e in ep.events if e.kind == "model_call")
        assert note[0].round >= last_call and len(spent) < ep.rounds == 40  # stopped long before max_rounds
        assert ep.status == "max_rounds" and not ep.submissions
    rows = pair_rows(team, matched)
    assert [(r["S_team"], r["S_single"], r["S_matched"], r["stopped"]) for r in rows] == [(0.0, 0.0, 0.0, True)] * 2
    blocks = report_blocks([team, matched])  # a section for the matched run only
    assert [b.kind for b in blocks] == ["h2", "p", "p", "table"]
    assert "left out of every other table" in blocks[1].text
    assert blocks[3].table.row(0)[:4] == ("2", "broadcast", "1", "2")
    assert [b.kind for b in report_blocks([matched])] == ["h2", "p", "table"]  # alone: nothing to set apart
    _matched_runs_are_not_a_second_single_agent_baseline(team, matched)
    res = CliRunner().invoke(main, ["resume", str(matched), "--no-progress", "--no-preflight"])
    assert res.exit_code == 0 and "2 episodes" in res.output and "2 done, 0 to run" in res.output


def _matched_runs_are_not_a_second_single_agent_baseline(team, matched):
    """Reported together, the matched N = 1 episodes stay out of the general tables (and so of S(N=1) and
    RCC); reported alone, a matched run keeps them."""
    both = load_runs([team, matched], messages=False)
    assert sorted(both.episodes["run"].unique()) == ["matched", "team"]
    kept, apart = without_matched(both, [team, matched])
    assert apart == ["matched"]
    assert kept.episodes["run"].unique().to_list() == ["team"] and len(kept.episodes) == 4
    assert set(kept.agents["run"].unique()) == {"team"}
    alone, none = without_matched(load_runs([matched], messages=False), [matched])
    assert none == [] and len(alone.episodes) == 2
    res = CliRunner().invoke(main, ["report", str(team), str(matched), "--no-plots", "-o", str(team.parent / "rep")])
    assert res.exit_code == 0, res.output
    assert "matched run(s) matched: left out of the general tables" in res.output


def _spec(fs, budget: int | None, max_rounds: int = 3) -> EpisodeSpec:
    extra = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, "retries": 0,
             "action_mode": "json"}
    return EpisodeSpec(EpisodeConfig(task="I-01", n_agents=1, protocol="none", team="llm", models=["openai/fault"],
                                     max_rounds=max_rounds, action_budget=2,
                                     extra={**extra, **({} if budget is None else {"token_budget": budget})}))


def _run(tmp_path, specs, budget=None):
    rd = RunDir(tmp_path / "r")
    rd.init(_run_config())
    asyncio.run(run_specs(specs, rd, concurrency=1, budget=budget))
    return {e.config.extra.get("token_budget"): e for e in rd.episodes()}


def _run_config():
    from silo.records import RunConfig

    return RunConfig(tasks=["I-01"], n_agents=[1], protocols=["p2p"], teams=["llm"])


def test_a_budget_is_only_a_ceiling_and_a_zero_budget_makes_no_call(tmp_path, fault_key):
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        eps = _run(tmp_path, [_spec(fs, 10**6), _spec(fs, 0)])
        calls = len(fs.requests)
    rich, broke = eps[10**6], eps[0]
    assert rich.status == "complete" and [s.answer for s in rich.submissions] == [7]
    assert not [e for e in rich.events if e.kind == "note"]
    assert calls == len(_call_tokens(rich)) == 1 and not _call_tokens(broke)
    assert broke.status == "max_rounds" and not broke.submissions
    assert [e.data["token_budget"] for e in broke.events if e.kind == "note"] == [
        {"budget": 0, "used": 0, "stopped": True}]


def test_the_run_budget_still_applies_to_a_capped_agent(tmp_path, fault_key):
    with FaultServer() as fs:  # `wait` forever; the run ceiling (1 token) stops it first: an error, not a stop
        eps = _run(tmp_path, [_spec(fs, 10**6, max_rounds=20)], Budget(max_tokens=1))
    ep = eps[10**6]
    assert ep.status == "error" and "token budget reached" in ep.error and SPENT not in ep.error
    assert len(_call_tokens(ep)) == 1


def test_matched_needs_an_llm_team_run_and_its_sweep(tmp_path):
    team = tmp_path / "t"
    assert _cli("run", "--team", "oracle", "--task", "I-01", "--n", "2", "-o", str(team)).exit_code == 0
    res = _cli("run", "--matched", str(team), "-o", str(tmp_path / "m"))
    assert res.exit_code != 0 and "no completed all-LLM team episode" in res.output
    res = _cli("run", "--matched", str(team), "--n", "3", "-o", str(tmp_path / "m"))
    assert res.exit_code == 2 and "drop --n" in res.output
    res = _cli("run", "--matched", str(tmp_path / "nothing"), "-o", str(tmp_path / "m"))
    assert res.exit_code != 0 and "not a run directory" in res.output


def _row(task, inst, s_team, s_single, s_matched, n=2, proto="p2p", budget=100, used=100, stopped=False):
    return {"task": task, "level": 1, "n_agents": n, "protocol": proto, "instance_id": inst, "S_team": s_team,
            "S_single": s_single, "S_matched": s_matched, "budget": budget, "used": used, "stopped": stopped}


def test_rcc_at_equal_budget_on_hand_built_rows():
    rows = [  # N = 2: task A team 0.75, usual 1, matched 0.5; task B team 0.25, usual 0.5, matched 0.5
        _row("A", "A1", 1.0, 1.0, 0.5, stopped=True), _row("A", "A2", 0.5, 1.0, 0.5, budget=300, used=310),
        _row("B", "B1", 0.0, 1.0, 0.0), _row("B", "B2", 0.5, 0.0, 1.0),
        # N = 3: task C has no usual baseline (the usual RCC uses task D alone); the team beats the matched agent
        _row("C", "C1", 1.0, None, 0.0, n=3), _row("D", "D1", 0.5, 1.0, 0.25, n=3),
    ]
    two, three = equal_budget(rows)
    assert (two["n_agents"], two["tasks"], two["pairs"]) == (2, 2, 4)
    assert two["S_k"] == 0.5 and two["S_1"] == 0.75 and two["S_1m"] == 0.5
    assert two["RCC"] == pytest.approx(1 / 3) and two["RCC_matched"] == pytest.approx(0.0)
    assert two["dS"] == pytest.approx(0.0) and two["dS_lo"] < 0 < two["dS_hi"]
    assert two["RCC_lo"] <= two["RCC"] <= two["RCC_hi"]
    assert two["budget"] == 150 and two["used"] == 152.5 and two["stopped"] == 0.25
    assert three["RCC"] == pytest.approx(0.5)  # 1 - 0.5 / 1 over task D
    assert three["RCC_matched"] == pytest.approx(1 - 0.75 / 0.125) and three["dS"] == pytest.approx(0.625)
    table = markdown([two, three])
    assert "| 2 | p2p | 2 | 4 | 50.0 | 75.0 | 50.0 | 0.33 [" in table and json.dumps(two)
