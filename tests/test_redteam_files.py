"""Red team, files: a run directory whose config, scores, episode files, lock or cache are damaged, and a disk
that fills up mid-write (a file size rlimit in a subprocess). Whatever is damaged, `silo run`, `resume`,
`score` and `report` either recover or stop with one line naming what to fix, never a traceback; nothing
already written is lost, and a model call already paid for is never lost because the cache is unusable."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fault_server import FaultServer
from silo import episode_io, rundir_lock
from silo.cli import main
from silo.llm import Client, LLMSettings
from silo.llm_cache import CallCache, cache_key, canonical
from silo.rundir import RunDir

SWEEP = ["run", "--team", "oracle", "--task", "I-01", "--n", "2,5", "--protocol", "p2p,broadcast", "--no-progress",
         "--no-preflight"]
SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line_or_ok(res, needle=None):
    assert "Traceback" not in res.output, res.output
    if res.exit_code == 0:
        return True
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    assert needle is None or needle in errors[0], res.output
    return False


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("done") / "r"
    res = _cli(*SWEEP, "-o", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def run(done, tmp_path):
    dest = tmp_path / "r"
    shutil.copytree(done, dest)
    return dest


def _damage(path: Path, how: str) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if how == "dir":
        path.mkdir()
    else:
        path.write_text(how)


CONFIG_DAMAGE = ["", '{"run": {"tasks": ["I-0', "[]", '{"run": 5}', '"just a string"', "dir"]


@pytest.mark.parametrize("how", CONFIG_DAMAGE, ids=["empty", "cut", "list", "run-int", "string", "dir"])
def test_a_damaged_config_is_one_line_on_every_command_and_force_rewrites_it(run, how):
    _damage(run / "config.json", how)
    for cmd in (["resume", run, "--no-progress", "--no-preflight"], [*SWEEP, "-o", run]):
        res = _cli(*cmd)
        assert not _one_line_or_ok(res, "config"), res.output
    for cmd in (["score", run, "-j", "1"], ["report", run, "--no-plots", "-o", run.parent / "rep"]):
        _one_line_or_ok(_cli(*cmd))
    res = _cli(*SWEEP, "-o", run, "--force")  # the user's way out: the sweep is re-run into a fresh config
    assert res.exit_code == 0, res.output
    assert RunDir(run).saved_config() is not None and len(RunDir(run).statuses()) == 4


@pytest.mark.parametrize("how", ["", "{not json\n", "dir"], ids=["empty", "garbage", "dir"])
def test_a_damaged_scores_file_is_rebuilt_or_named(run, how):
    _damage(run / "scores.jsonl", how)
    _one_line_or_ok(_cli("report", run, "--no-plots", "-o", run.parent / "rep"), "scores")
    res = _cli(*SWEEP, "-o", run)  # everything done: only scoring is left, which rewrites scores.jsonl
    if not _one_line_or_ok(res, "scores.jsonl"):
        return
    assert len(RunDir(run).scores()) == 4


def test_an_episode_path_that_is_a_directory_is_moved_aside_and_re_run(run):
    victim = sorted((run / "episodes").iterdir())[0]
    _damage(victim, "dir")
    res = _cli("resume", run, "--no-progress", "--no-preflight")
    assert res.exit_code == 0, res.output
    assert set(RunDir(run).statuses().values()) == {"complete"} and len(RunDir(run).statuses()) == 4
    assert (run / "damaged").is_dir()


@pytest.mark.parametrize("lock", ["", "garbage", '{"pid": "abc"}', '{"pid": 1e30}', '{"pid": -5}', "[1, 2]",
                                  '{"pid": 4194304, "host": "elsewhere"}', "dir"],
                         ids=["empty", "garbage", "pid-str", "pid-huge", "pid-neg", "list", "dead-pid", "dir"])
def test_a_damaged_or_stale_lock_is_taken_over_or_named(run, lock):
    _damage(run / ".lock", lock)
    if "elsewhere" in lock:  # another host's lock is taken over once it has not been refreshed for STALE s
        os.utime(run / ".lock", (time.time() - rundir_lock.STALE - 60,) * 2)
    res = _cli(*SWEEP, "-o", run)
    if _one_line_or_ok(res, ".lock"):
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()  # taken over (released at exit)
    else:
        assert lock == "dir"  # a directory is not removed on a guess: the user is told to


def _llm_opts(fs, cache_dir):
    return {"model": "openai/fault", "api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": True,
            "cache_dir": str(cache_dir), "retries": 1, "backoff_s": 0.01, "timeout_s": 5}


@pytest.mark.parametrize("blocker", ["file", "file-below"])
def test_an_unusable_cache_never_loses_a_paid_reply(tmp_path, monkeypatch, blocker):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")
    cache_dir = tmp_path / "cache"
    if blocker == "file":
        cache_dir.write_text("not a directory")
    else:
        cache_dir.mkdir()
        for d in range(256):  # every <key[:2]> shard directory is a file: no entry can be written
            (cache_dir / f"{d:02x}").write_text("x")
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        s = LLMSettings(**_llm_opts(fs, cache_dir))
        reply = asyncio.run(Client(s).complete([{"role": "user", "content": "hi"}]))
    assert reply.content == SUBMIT_7  # the call was paid for: its reply reaches the agent


@pytest.mark.parametrize("response", [{"content": 5}, {"content": SUBMIT_7, "tool_calls": "abc"},
                                      {"content": SUBMIT_7, "input_tokens": "many"},
                                      {"content": None, "tool_calls": [{"id": 1}]}, ["not", "a", "dict"]],
                         ids=["content-int", "tool-calls-str", "tokens-str", "tool-call-no-name", "list"])
def test_a_cache_entry_of_the_wrong_shape_reads_as_a_miss(tmp_path, monkeypatch, response):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")
    msgs = [{"role": "user", "content": "hi"}]
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        client = Client(LLMSettings(**_llm_opts(fs, tmp_path)))
        fields = client.key_fields(msgs, None, None)
        key = cache_key(fields)
        path = Path(CallCache(tmp_path)._path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key_fields": json.loads(canonical(fields)), "response": response}))
        reply = asyncio.run(client.complete(msgs))
        assert len(fs.requests) == 1  # a miss: asked the server
    assert reply.content == SUBMIT_7


# ---- disk full mid-write: RLIMIT_FSIZE in a subprocess (a write past it fails with EFBIG) ------------------
LIMITED = ("import resource, sys; n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); "
           "from silo.cli import main; sys.argv = ['silo'] + sys.argv[2:]; main()")


def _limited(limit, *args, env=None):
    cmd = [sys.executable, "-c", LIMITED, str(limit), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_disk_full_mid_run_stops_with_one_line_and_loses_nothing_written(tmp_path):
    out = tmp_path / "r"
    sweep = ["run", "--team", "oracle", "--task", "I-01,II-11", "--n", "2,20", "--protocol", "p2p", "--no-progress",
             "--no-preflight", "-o", out]
    res = _limited(6000, *sweep)  # config.json and the small episodes fit, the N = 20 episodes do not
    assert res.returncode != 0
    assert "Traceback" not in res.stderr, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "File too large" in errors[0], res.stderr
    written = RunDir(out).episode_files()
    for f in written:  # nothing half-written: every file there reads back whole
        episode_io.read(f)
    assert not list(out.rglob(".*.tmp"))
    assert (out / "config.json").exists() and RunDir(out).saved_config() is not None
    res = subprocess.run([sys.executable, "-m", "silo.cli", "resume", str(out), "--no-progress", "--no-preflight"],
                         capture_output=True, text=True, timeout=120, env={**os.environ})
    assert res.returncode == 0, res.stderr
    assert sorted(set(RunDir(out).statuses().values())) == ["complete"] and len(RunDir(out).statuses()) == 4
