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


def test_a_key_revoked_mid_run_stops_a_ray_run_as_it_stops_a_local_one(tmp_path, monkeypatch):
    """The first fatal episode stops submissions (exit 4, the local one-line message); the episodes done stay
    done, and `silo resume` once the key works again (on the same Ray instance) completes the run."""
    from fault_server import FaultServer
    from silo import episode_io
    from silo.rundir import RunDir

    monkeypatch.setenv("RAY_ADDRESS", "")
    submit, served, state = '{"name": "submit_result", "arguments": {"answer": 7}}', [], {"fixed": False}

    def script(request):  # the preflight and 4 calls are served, then the key is rejected until it is fixed
        served.append(1)
        return ("ok", submit) if len(served) <= 5 or state["fixed"] else ("status", 401)

    env = {"SILO_FAULT_KEY": "sk-fault-secret-123", "SILO_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "r"
    with FaultServer(default=script) as fs:
        args = ["run", "--team", "llm", "--model", "openai/fault", "--api-base", fs.base, "--api-key-env",
                "SILO_FAULT_KEY", "--task", "I-01", "--n", "2", "--protocol", "p2p", "--replicates", "10",
                "--no-progress", "--executor", "ray", "-o", str(out)]
        try:
            res = CliRunner(env=env).invoke(main, args)
            hits = len(fs.requests)
            statuses = RunDir(out).statuses()
            before = {f: f.read_bytes() for f in RunDir(out).episode_files() if episode_io.status(f) != "error"}
            state["fixed"] = True
            again = CliRunner(env=env).invoke(main, ["resume", str(out), "--executor", "ray", "--no-progress"])
            resumed = len(fs.requests) - hits
        finally:
            shutdown()
    assert res.exit_code == 4, res.output
    stop = [ln for ln in res.output.splitlines() if ln.startswith("stopped:")]
    assert len(stop) == 1 and "API key" in stop[0] and "SILO_FAULT_KEY" in stop[0], res.output
    assert "Traceback" not in res.output and "sk-fault-secret-123" not in res.output
    # 4 episodes in flight (2 CPUs); at most the 2 served ones finish before the first fatal one and are
    # replaced; nothing is submitted after it (without the stop all 10 episodes start: 21 requests)
    assert len(statuses) <= 6 and hits <= 1 + 2 * 6, (len(statuses), hits)
    # and the key's rejection reaches the other workers: only the calls of the 2 episodes running when it came
    # (2 agents each) are refused; the episodes in flight that start after it make no request at all (each
    # made 2 that were refused before the actor carried it: 8 or more of the 13 allowed above)
    assert hits - 5 <= 2 * 2, hits
    assert again.exit_code == 0, again.output
    final = RunDir(out).statuses()
    assert len(final) == 10 and "error" not in final.values()
    assert all(f.read_bytes() == b for f, b in before.items())  # the episodes done were not run again
    assert resumed <= 1 + 2 * (10 - len(before))  # the preflight and the episodes not yet done, no more
