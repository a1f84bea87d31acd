"""Red team, mistakes: what a researcher does to a long paid sweep, through the CLI against the local fault server
(Ctrl-C in a real `python -m silo.cli` subprocess; the rest in process: litellm's import alone is 7 s of CPU).
Ctrl-C then resume loses and re-bills no answered call (the cache); a second `silo run` on the same directory
is refused naming the first; a model-name typo fails before any episode; a key revoked mid-run stops the run
with its own exit code; `--concurrency 1000` never opens more connections than the endpoint's limit; an edited
suite file cannot silently change a run being resumed."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from fault_server import FaultServer
from silo import cli_run
from silo.cli import main
from silo.rundir import RunDir

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'
EXIT_REFUSED = getattr(cli_run, "EXIT_REFUSED", 4)  # the contract: exit 4 (a getattr so the old code can be tried)
WAIT = '{"name": "wait", "arguments": {}}'


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "SILO_FAULT_KEY": "sk-fault-secret-123", "SILO_CACHE_DIR": str(tmp_path / "cache"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"}


def _silo(*args):
    return [sys.executable, "-m", "silo.cli", *map(str, args)]


def _cli(env, *args):
    keep = ("SILO_FAULT_KEY", "SILO_CACHE_DIR")
    return CliRunner(env={k: env[k] for k in keep}).invoke(main, [str(a) for a in args])


def _llm(fs, out, *more):
    return ["run", "--team", "llm", "--model", "openai/fault", "--api-base", fs.base, "--api-key-env",
            "SILO_FAULT_KEY", "--task", "I-01", "--n", "2", "--no-progress", "-o", out, *more]


def _slow_script(delay):
    """Each agent waits twice, then submits 7; every reply takes `delay` seconds."""

    def script(request):
        time.sleep(delay)
        mine = sum(m["role"] == "assistant" for m in request["messages"])
        return ("ok", WAIT if mine < 2 else SUBMIT_7)

    return script


def _key(request):
    return json.dumps(request.get("messages"), sort_keys=True)


def test_ctrl_c_then_resume_re_bills_no_answered_call_and_a_second_writer_is_refused(tmp_path, env):
    out = tmp_path / "r"
    with FaultServer(default=_slow_script(0.15)) as fs:
        args = _llm(fs, out, "--protocol", "p2p,broadcast,sfs", "--replicates", "3", "--no-preflight")
        first = subprocess.Popen(_silo(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while len(fs.answered) < 12 and time.monotonic() < deadline and first.poll() is None:
                time.sleep(0.05)
            assert first.poll() is None, first.communicate()
            second = _cli(env, *args)
            assert second.exit_code == 2 and f"pid {first.pid}" in second.output, second.output
            assert "Traceback" not in second.output and len(second.output.strip().splitlines()) == 1
            first.send_signal(signal.SIGINT)
            _, err = first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode != 0 and "Traceback" not in err, err
        assert not (out / ".lock").exists()
        answered = {_key(r) for r in fs.answered}
        sent_before = len(fs.requests)
        res = _cli(env, "resume", out, "--no-progress", "--no-preflight")
        assert res.exit_code == 0, res.output
        again = [r for r in fs.requests[sent_before:] if _key(r) in answered]
    statuses = RunDir(out).statuses()
    assert len(statuses) == 9 and set(statuses.values()) == {"complete"}
    assert len(answered) >= 12
    assert len(again) <= 8  # at most the calls in flight at Ctrl-C (one endpoint: 8 connections), not all answered


def test_a_model_name_typo_fails_before_any_episode(tmp_path, env):
    def known(request):
        if request.get("model") != "fault":
            return ("raw", (404, {"error": {"message": f"The model `{request.get('model')}` does not exist",
                                            "type": "invalid_request_error", "code": "model_not_found"}}, None))
        return ("ok", SUBMIT_7)

    with FaultServer(default=known) as fs:
        args = _llm(fs, tmp_path / "r", "--protocol", "p2p")
        args[args.index("openai/fault")] = "openai/fualt"
        res = _cli(env, *args)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1 and "openai/fualt" in res.output
        assert len(fs.requests) == 1 and not (tmp_path / "r" / "episodes").exists()
        # without the preflight (or on resume), the first 404 stops the run: no episode after it is tried
        res = _cli(env, *args, "--replicates", "5", "--no-preflight")
        assert res.exit_code == EXIT_REFUSED, res.output
        assert "Traceback" not in res.output and "stopped:" in res.output
        assert len(fs.requests) <= 1 + 4 * 2  # the episodes in flight, one call per agent, no retries


def test_a_key_revoked_mid_run_stops_it_with_its_own_exit_code(tmp_path, env):
    served = []

    def script(request):
        served.append(1)
        return ("ok", SUBMIT_7) if len(served) <= 5 else ("status", 401)

    with FaultServer(default=script) as fs:
        res = _cli(env, *_llm(fs, tmp_path / "r", "--protocol", "p2p", "--replicates", "10", "--concurrency", "1"))
        hits = len(fs.requests)
    assert res.exit_code == EXIT_REFUSED, res.output
    assert "Traceback" not in res.output
    stop = [ln for ln in res.output.splitlines() if ln.startswith("stopped:")]
    assert len(stop) == 1 and "API key" in stop[0] and "SILO_FAULT_KEY" in stop[0], res.output
    assert hits <= 1 + 4 + 2  # preflight, two episodes, one failing call per agent of the third
    assert "sk-fault-secret-123" not in res.output


def test_concurrency_1000_never_exceeds_the_endpoint_limit(tmp_path, env):
    lock, now, peak = threading.Lock(), [0], [0]

    def counted(request):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.05)
        with lock:
            now[0] -= 1
        return ("ok", SUBMIT_7)

    with FaultServer(default=counted) as fs:
        res = _cli(env, *_llm(fs, tmp_path / "r", "--protocol", "p2p", "--replicates", "40", "--concurrency", "1000"))
    assert res.exit_code == 0, res.output
    statuses = RunDir(tmp_path / "r").statuses()
    assert len(statuses) == 40 and set(statuses.values()) == {"complete"}
    assert 1 < peak[0] <= 8  # --max-connections' default per endpoint


def test_an_edited_suite_file_is_refused_on_run_and_ignored_on_resume(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\ntasks = ["I-01"]\nn_agents = [2]\nprotocols = ["p2p"]\n'
                     'teams = ["oracle"]\nmax_rounds = 20\n')
    out = tmp_path / "r"
    cli = CliRunner()
    assert cli.invoke(main, ["run", "--suite", str(suite), "-o", str(out), "--no-progress"]).exit_code == 0
    suite.write_text(suite.read_text().replace("max_rounds = 20", "max_rounds = 7"))
    res = cli.invoke(main, ["run", "--suite", str(suite), "-o", str(out), "--no-progress"])
    assert res.exit_code == 2 and "max_rounds" in res.output and len(res.output.strip().splitlines()) == 1
    res = cli.invoke(main, ["resume", str(out), "--no-progress"])
    assert res.exit_code == 0 and RunDir(out).saved_config().max_rounds == 20


def test_an_exhausted_quota_is_refused_by_the_preflight(tmp_path, monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")
    quota = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                       "type": "insufficient_quota", "code": "insufficient_quota"}}
    with FaultServer(default=("raw", (429, quota, None))) as fs:
        res = CliRunner().invoke(main, _llm(fs, tmp_path / "r", "--protocol", "p2p"))
        assert len(fs.requests) == 1
    assert res.exit_code == 2 and "quota" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "r").exists()
