"""The CLI: a newcomer's path works; bad input gives one line and a non-zero exit, never a traceback."""

import json
import os
import time

import pytest
from click.testing import CliRunner

from silo import episode_io
from silo.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("args,needle", [
    (["run", "--task", "nope", "--team", "oracle"], "unknown task 'nope'"),
    (["run", "--task", "I-01", "--n", "0", "--team", "oracle"], "N must be >= 1"),
    (["run", "--task", "I-01", "--protocol", "smoke", "--team", "oracle"], "unknown protocol 'smoke'"),
    (["run", "--task", "I-01", "--team", "heroes"], "unknown team 'heroes'"),
    (["run", "--task", "I-01", "--n", "x"], "expected comma-separated integers"),
    (["score", "/nonexistent/run"], "not a run directory"),
    (["report", "/nonexistent/run"], "not a run directory"),
    (["generate", "--task", "nope"], "unknown task 'nope'"),
    (["resume", "/nonexistent/run"], "not a run directory"),
])
def test_bad_input_is_one_line_and_nonzero(args, needle, tmp_path):
    res = _run(*args, *(["-o", str(tmp_path / "r")] if args[0] == "run" else []))
    assert res.exit_code != 0
    assert needle in res.output
    assert "Traceback" not in res.output
    assert len([ln for ln in res.output.splitlines() if ln.startswith("error")]) <= 1


def test_unreadable_episode_file_is_a_clear_warning_and_the_rest_is_scored(tmp_path):
    out = tmp_path / "r"
    assert _run("run", "--team", "oracle", "--task", "I-01", "--n", "2", "--no-progress", "-o", str(out)).exit_code == 0
    next((out / "episodes").glob("*.jsonl.gz")).write_text("{not json")
    res = _run("score", str(out))  # one damaged file never blocks a command (resume moves it aside: test_reliability)
    assert "Traceback" not in res.output
    assert len((out / "scores.jsonl").read_text().splitlines()) == 2  # the other two episodes


def test_tasks_lists_level_and_version():
    res = _run("tasks")
    assert res.exit_code == 0
    first = res.output.splitlines()[0].split()
    assert first[0] == "I-01" and first[1] == "L1" and first[2].startswith("v")


def test_generate_writes_valid_instances(tmp_path):
    out = tmp_path / "i.jsonl"
    res = _run("generate", "--task", "I-01", "--n", "2,3", "--replicates", "2", "-o", str(out))
    assert res.exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["n_agents"], r["replicate"]) for r in rows] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert all(len(r["shards"]) == r["n_agents"] == len(r["truth"]) for r in rows)


def test_run_then_rescore_offline_gives_the_same_scores(tmp_path):
    out = tmp_path / "r"
    res = _run("run", "--team", "oracle,premature", "--task", "I-01", "--n", "1,3", "--no-progress", "-o", str(out))
    assert res.exit_code == 0, res.output
    first = (out / "scores.jsonl").read_text()
    (out / "scores.jsonl").unlink()
    assert _run("score", str(out)).exit_code == 0
    assert (out / "scores.jsonl").read_text() == first
    assert (out / "report.md").exists()


# ---- fail fast, exit honestly (preflight, --fail-on-error, error causes) -------------------------

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'


def _fault_suite(tmp_path, **options) -> str:
    """A one-task suite against the fault server: no cache, no waiting between retries."""
    opts = {"cache": False, "retries": 1, "backoff_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 5, **options}
    body = ", ".join(f"{k} = {json.dumps(v)}" for k, v in opts.items())
    suite = tmp_path / "fault.toml"
    suite.write_text(f'[suite]\nname = "fault"\ntasks = ["I-01"]\nn_agents = [2]\nprotocols = ["p2p", "sfs"]\n'
                     f'max_rounds = 2\naction_budget = 2\noptions = {{ {body} }}\n')
    return str(suite)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fault_run(fs, tmp_path, *extra, key="SILO_FAULT_KEY", **options):
    return _run("run", "--suite", _fault_suite(tmp_path, **options), "--model", "openai/fault", "--api-base", fs.base,
                "--api-key-env", key, "--no-progress", "-o", str(tmp_path / "r"), *extra)


@pytest.fixture
def fault_key(monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")


def test_preflight_names_the_unset_key_variable_before_any_episode(tmp_path, monkeypatch):
    monkeypatch.delenv("SILO_NO_SUCH_KEY", raising=False)
    res = _run("run", "--model", "openai/gpt-4o-mini", "--api-key-env", "SILO_NO_SUCH_KEY", "--task", "I-01",
               "--n", "2", "-o", str(tmp_path / "r"))
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1] == ("error: environment variable SILO_NO_SUCH_KEY (--api-key-env, "
                                                   "for openai/gpt-4o-mini) is not set")
    assert not (tmp_path / "r").exists()  # stopped before the run directory was even created


def test_preflight_names_the_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    res = _run("run", "--model", "openai/x", "--api-base", url, "--task", "I-01", "--n", "2", "-o", str(tmp_path / "r"))
    assert res.exit_code == 2 and "Traceback" not in res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach {url} (--api-base)")


@pytest.mark.parametrize("status,needle", [(401, "rejected the API key from SILO_FAULT_KEY"),
                                           (404, "model openai/fault is not known at")])
def test_preflight_names_a_rejected_key_or_unknown_model(status, needle, tmp_path, fault_key):
    from fault_server import FaultServer

    with FaultServer(default=("status", status)) as fs:
        res = _fault_run(fs, tmp_path)
        assert len(fs.requests) == 1 and fs.requests[0]["max_tokens"] == 1  # one cheap request, no retries
    assert res.exit_code == 2 and needle in res.output.strip().splitlines()[-1]
    assert "sk-fault-secret-123" not in res.output


def test_errored_episodes_exit_nonzero_with_each_cause_once(tmp_path, fault_key):
    from fault_server import FaultServer

    with FaultServer(default=("status", 400)) as fs:  # 400: an error of each call (a 401 stops the run)
        res = _fault_run(fs, tmp_path, "--no-preflight")
        assert res.exit_code == 1, res.output
        cause_lines = [ln for ln in res.output.splitlines() if " x " in ln and "AgentFailure" in ln]
        assert len(cause_lines) == 1 and cause_lines[0].split()[0] == "2"  # 2 episodes, one cause
        assert "error: 2 of 2 episodes errored" in res.output
        results = json.loads((tmp_path / "r" / "results.json").read_text())
        assert results["episodes"]["error"] == 2 and results["errors"][0]["count"] == 2
        assert _fault_run(fs, tmp_path, "--no-preflight", "--fail-on-error", "2").exit_code == 0  # tolerates 2
        assert _fault_run(fs, tmp_path, "--no-preflight", "--fail-on-error", "0.5").exit_code == 1
        assert _fault_run(fs, tmp_path, "--no-preflight", "--no-fail-on-error").exit_code == 0
        fs.default = ("ok", SUBMIT_7)
        again = _run("resume", str(tmp_path / "r"), "--no-progress")  # preflight passes, errors re-run and heal
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "r" / "results.json").read_text())["episodes"]["error"] == 0


def test_retry_warnings_stay_out_of_the_terminal(tmp_path, monkeypatch):
    from fault_server import FaultServer

    key = f"sk-retry-{os.getpid()}-{time.monotonic_ns()}"  # this run's own key: a stray request cannot take the plan
    monkeypatch.setenv("SILO_FAULT_KEY", key)
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        fs.only_auth = f"Bearer {key}"
        fs.queue(("ok", "pong"), ("status", 503), ("status", 503))  # preflight, then two retried failures
        res = _fault_run(fs, tmp_path, retries=3)
    assert res.exit_code == 0, res.output
    assert "retrying" not in res.output and "attempt" not in res.output
    eps = [episode_io.load_dict(f) for f in episode_io.files(tmp_path / "r" / "episodes")]
    retried = [e for ep in eps for e in ep["events"] if e["kind"] == "model_call" and e["data"].get("error")]
    seen = [(r.get("max_tokens"), len(r.get("messages", []))) for r in fs.requests]
    assert fs.requests[0]["max_tokens"] == 1, seen  # the preflight probe came first and took "pong"
    assert len(retried) == 2, (seen, len(fs.strays))  # the attempts are in the episode logs


# ---- CLI parity: -M, per-model endpoints, connection limit, --limit, results.json ----------------

def test_model_args_and_per_model_api_bases_reach_the_right_server(tmp_path, fault_key):
    from fault_server import FaultServer

    with FaultServer(default=("ok", SUBMIT_7)) as a, FaultServer(default=("ok", SUBMIT_7)) as b:
        res = _run("run", "--suite", _fault_suite(tmp_path), "--models", "openai/a,openai/b",
                   "--api-base", f"openai/a={a.base}", "--api-base", f"openai/b={b.base}",
                   "--api-key-env", "SILO_FAULT_KEY", "-M", "top_p=0.5", "-M", "stop=[\"END\"]", "--no-progress",
                   "-o", str(tmp_path / "r"))
    assert res.exit_code == 0, res.output
    assert {r["model"] for r in a.requests} == {"a"} and {r["model"] for r in b.requests} == {"b"}
    runs = [r for r in a.requests + b.requests if r["max_tokens"] != 1]  # not the preflight probes
    assert runs and all(r["top_p"] == 0.5 and r["stop"] == ["END"] for r in runs)


def test_max_connections_sets_the_endpoint_limit(tmp_path):
    from silo.llm import LLMSettings

    out = tmp_path / "r"
    res = _run("run", "--team", "oracle", "--task", "I-01", "--n", "2", "--max-connections", "3",
               "--max-connections", "openai/b=1", "--no-progress", "-o", str(out))
    assert res.exit_code == 0, res.output
    extra = json.loads((out / "config.json").read_text())["run"]["extra"]
    assert LLMSettings.from_extra("openai/a", extra).concurrency == 3
    assert LLMSettings.from_extra("openai/b", extra).concurrency == 1
    assert _run("run", "--max-connections", "0", "--team", "oracle", "-o", str(out)).exit_code == 2


def test_limit_caps_episodes_per_task(tmp_path):
    out = tmp_path / "r"
    res = _run("run", "--team", "oracle", "--task", "I-01,II-11", "--n", "2,3", "--limit", "2", "--no-progress",
               "-o", str(out))
    assert res.exit_code == 0, res.output
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    per_task = {t: sum(s["task"] == t for s in scores) for t in ("I-01", "II-11")}
    assert per_task == {"I-01": 2, "II-11": 2}  # of 6 each without --limit
    assert _run("resume", str(out), "--no-progress").output.count("0 to run") == 1  # resume keeps the limit


def test_results_json_has_config_versions_and_intervals(tmp_path):
    from silo.tasks import get_task

    out = tmp_path / "r"
    assert _run("run", "--team", "oracle,premature", "--task", "I-01,III-21", "--n", "3", "--no-progress",
                "-o", str(out)).exit_code == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["teams"] == ["oracle", "premature"] and doc["suite"] == "adhoc"
    assert doc["versions"]["tasks"] == {t: get_task(t).version for t in ("I-01", "III-21")}
    assert doc["versions"]["silo"] and doc["versions"]["scorer"] is not None
    assert doc["episodes"]["total"] == 12 and doc["errors"] == []
    oracle = [r for r in doc["aggregates"] if r["team"] == "oracle" and r["task"] == "I-01"]
    assert len(oracle) == 3 and all(r["S_lo"] <= r["S"] <= r["S_hi"] for r in oracle)


def test_missing_embedded_weights_give_the_install_command(monkeypatch, tmp_path):
    from silo import local_model

    monkeypatch.setitem(local_model.WEIGHTS, "ghost-1m", ("silo_no_such_weights_pkg", "ghost.gguf"))
    res = _run("run", "--model", "local/ghost-1m", "--task", "I-01", "--n", "2", "-o", str(tmp_path / "r"))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "run `silo install-model`" in res.output.strip().splitlines()[-1]
    assert not (tmp_path / "r").exists()


def test_tasks_json_and_one_task_with_an_example_instance():
    from silo.tasks import all_tasks, get_task

    listing = json.loads(_run("tasks", "--json").output)
    assert [t["id"] for t in listing] == [t.id for t in all_tasks()]
    assert {"slug", "level", "version", "answer_format", "optimal_topology", "guessable"} <= set(listing[0])
    res = _run("tasks", "III-21", "--json", "--n", "4")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    inst = get_task("III-21").make_instance(4, 0)
    assert d["description"] == inst.description and d["example"]["truth"] == inst.truth
    assert len(d["example"]["shards"]) == 4 and d["answer_format"] == inst.answer_format
    text = _run("tasks", "distributed-sort").output  # slugs work too
    for needle in ("III-21", "answer:", "optimal topology:", "guessability", "(N = 3", "agent 2 shard"):
        assert needle in text
    bad = _run("tasks", "nope")
    assert bad.exit_code == 2 and "unknown task 'nope'" in bad.output


def test_cli_imports_no_engine_and_its_errors_stay_one_line(tmp_path):
    """`import silo.cli` (every command, `--help`) loads neither the engine nor polars, pydantic or matplotlib:
    each command imports what it needs; a user error of a lazily imported module is still one line, exit 2."""
    import subprocess
    import sys

    code = "import sys, silo.cli; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(out.split())
    assert not loaded & {"silo.runner", "silo.records", "silo.tasks", "polars", "numpy", "pydantic", "matplotlib",
                         "asyncio", "silo.cli_run", "silo.local_model", "importlib.metadata"}
    for cmd in ("score", "report"):
        res = _run(cmd, str(tmp_path / "missing"))
        assert res.exit_code == 2
        assert res.output.strip().splitlines()[-1] == f"error: not a run directory: {tmp_path / 'missing'}"


def test_report_freezes_every_object_at_exit_once(tmp_path):
    """`silo report`, like `silo score`, freezes every object at its exit (the interpreter's final collections
    then walk none), not before, and a second report in the same process registers no second freeze."""
    import subprocess
    import sys

    run = tmp_path / "r"
    assert _run("run", "--team", "oracle", "--task", "I-01", "--n", "2", "--protocol", "p2p", "--no-progress",
                "-o", str(run)).exit_code == 0
    code = ("import atexit, gc\n"
            "calls, freeze = [], gc.freeze\n"
            "gc.freeze = lambda: calls.append(1) or freeze()\n"  # counts the freezes (looked up by the CLI)
            "atexit.register(lambda: print('at exit', len(calls), gc.get_freeze_count() > 0, flush=True))\n"
            "from silo.cli import main\n"
            "for k in range(2):\n"
            f"    try: main(['report', {str(run)!r}, '--no-plots', '-o', {str(tmp_path / 'out')!r}])\n"
            "    except SystemExit: pass\n"
            "print('before', len(calls), gc.get_freeze_count() > 0, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout
    assert out.splitlines()[-2:] == ["before 0 False", "at exit 1 True"]  # the print runs last (atexit: LIFO)
