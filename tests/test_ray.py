"""The Ray executor gives the same records as the local one (local Ray instance, 2 CPUs)."""

import pytest

pytest.importorskip("ray")

from click.testing import CliRunner  # noqa: E402

from silo.cli import main  # noqa: E402
from silo.executor_ray import shutdown  # noqa: E402

ARGS = ["run", "--team", "oracle,gossip,premature,miscompute", "--task", "I-01", "--n", "1,2,5", "--no-progress"]


def test_ray_and_local_executors_give_identical_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "")
    local = CliRunner().invoke(main, [*ARGS, "-o", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    try:
        remote = CliRunner().invoke(main, [*ARGS, "--executor", "ray", "-o", str(tmp_path / "ray")])
    finally:
        shutdown()
    assert remote.exit_code == 0, remote.output
    a = (tmp_path / "local" / "scores.jsonl").read_text()
    b = (tmp_path / "ray" / "scores.jsonl").read_text()
    assert a == b and a.count("\n") == 28  # 4 teams x (N=1 once + 2 N x 3 protocols)


def test_ray_checks_the_token_ceiling_per_model_call(tmp_path, monkeypatch):
    """Workers charge one shared budget per call: the run stops mid-episode, not after whole episodes."""
    import json

    from fault_server import FaultServer
    from silo.executor_ray import run_ray
    from silo.records import RunConfig
    from silo.runner import Budget, RunDir, expand

    monkeypatch.setenv("RAY_ADDRESS", "")
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")
    chatty = json.dumps({"name": "broadcast_message", "arguments": {"content": "x"}})
    fast = {"retries": 2, "backoff_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 3, "breaker_failures": 100,
            "outage_max_s": 5}
    with FaultServer(default=("ok", chatty)) as fs:
        extra = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, "action_mode": "json",
                 **fast}
        rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["broadcast"], teams=["llm"],
                       models=["openai/fault"], replicates=4, max_rounds=20, action_budget=3, extra=extra)
        rd = RunDir(tmp_path / "r")
        rd.init(rc)
        budget = Budget(max_tokens=5000)
        try:
            out = run_ray(expand(rc), rd, budget=budget, max_in_flight=2)
        finally:
            shutdown()
        calls = len(fs.requests)
    biggest = max(len(json.dumps(r["messages"])) // 4 + 7 for r in fs.requests)
    assert out.stopped and "token budget" in out.stopped
    # one episode alone would make 2 agents x 3 actions x 20 rounds = 120 calls, far past 5,000 tokens: the
    # ceiling holds to the calls in flight (2 episodes x 2 agents), so the episodes were cut mid-way
    used = budget.used.input_tokens + budget.used.output_tokens
    assert 5000 <= used <= 5000 + 4 * biggest
    assert calls < 20 * 3 * 2 * 2
    statuses = list(rd.statuses().values())
    assert statuses and "error" in statuses  # a budget-stopped episode is an error, never a wrong answer
