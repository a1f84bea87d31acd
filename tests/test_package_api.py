"""The public API (silo.api) and progress inside episodes."""

from __future__ import annotations

import asyncio
import json

import polars as pl
import pytest

import silo.api as silo
from silo import progress
from silo.preflight import PreflightError
from silo.runner import RunDir, expand, run_specs

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'
WAIT = '{"name": "wait", "arguments": {}}'


def test_evaluate_runs_a_sweep_and_returns_episode_scores(tmp_path):
    out = tmp_path / "r"
    df = silo.evaluate(tasks=["I-01", "II-11"], n_agents=[2, 3], protocols=["p2p"], teams=["oracle", "premature"],
                       out=out)
    assert isinstance(df, pl.DataFrame) and df.height == 8
    by_team = {r["team"]: r["S"] for r in silo.aggregate(df, ["team"], metrics=["S"], intervals=["S"]).to_dicts()}
    assert by_team["oracle"] == 1.0 and by_team["premature"] < 0.5  # premature answers from its own shard
    assert json.loads((out / "results.json").read_text())["episodes"]["total"] == 8
    files = {f.name: f.stat().st_mtime_ns for f in (out / "episodes").glob("*.jsonl.gz")}
    again = silo.evaluate(tasks=["I-01", "II-11"], n_agents=[2, 3], protocols=["p2p"],
                          teams=["oracle", "premature"], out=out)  # resumes: nothing re-run
    assert {f.name: f.stat().st_mtime_ns for f in (out / "episodes").glob("*.jsonl.gz")} == files
    assert again.sort("episode_id").select("S").equals(df.sort("episode_id").select("S"))


def test_evaluate_accepts_a_bundled_suite_with_overrides(tmp_path):
    df = silo.evaluate("quick", teams=["oracle"], n_agents=[2], protocols=["p2p"], out=tmp_path / "q")
    assert sorted(df.get_column("task").unique().to_list()) == ["I-01", "II-11", "III-21"]
    assert silo.sweep("quick").max_rounds == 4  # the suite's own limits


def test_evaluate_preflight_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("SILO_NO_SUCH_KEY", raising=False)
    with pytest.raises(PreflightError, match="SILO_NO_SUCH_KEY"):
        silo.evaluate(teams=["llm"], models=["openai/gpt-4o-mini"], options={"api_key_env": "SILO_NO_SUCH_KEY"},
                      out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_progress_counts_rounds_calls_and_tokens_while_an_episode_runs(tmp_path, monkeypatch):
    from fault_server import FaultServer

    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault")
    seen = []

    def script(request):  # runs in the server thread while the episode is in flight
        bar = progress.current()
        seen.append((bar.rounds, bar.calls, bar.tokens, bar.done))
        return ("ok", SUBMIT_7 if len(seen) > 6 else WAIT)

    with FaultServer(default=script) as fs:
        rc = silo.sweep(tasks=["I-01"], n_agents=[2], protocols=["p2p"], teams=["llm"], models=["openai/fault"],
                        max_rounds=8, action_budget=2,
                        options={"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False})
        rd = RunDir(tmp_path / "r")
        rd.init(rc)
        outcome = asyncio.run(run_specs(expand(rc), rd, factory=progress.instrumented(), progress=False))
    assert outcome.ran == 1 and outcome.errors == 0
    assert seen[0] == (0, 0, 0, 0)
    late = seen[-1]  # the last request of the only episode: the episode has not finished yet
    assert late[3] == 0 and late[0] >= 4 and late[1] >= 6 and late[2] > 0
