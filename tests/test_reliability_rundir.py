"""Run directories under misuse: two writers, stale locks and temp files, damaged episode files, harmless
and result-altering changes on resume."""

import json
import os
import subprocess
import sys
import time

from click.testing import CliRunner

from silo import rundir_lock
from silo.cli import main
from silo.episode_io import load_dict
from silo.rundir import RunDir

SWEEP = ["run", "--team", "oracle", "--task", "I-01", "--n", "2", "--protocol", "p2p,broadcast", "--no-progress",
         "--no-preflight"]


def _cli(*args):
    return CliRunner().invoke(main, list(args))


def _records(files):
    return {f.name: {k: v for k, v in load_dict(f).items() if k != "wall_s"} for f in files}


def _holder(path):
    code = ("import sys, time; from silo.rundir import RunDir; RunDir(sys.argv[1]).lock(); "
            "print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_then_a_dead_holder_is_taken_over(tmp_path):
    out = tmp_path / "r"
    proc = _holder(out)
    try:
        res = _cli(*SWEEP, "-o", str(out))
        assert res.exit_code != 0 and f"pid {proc.pid}" in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1
        assert not (out / "episodes").exists() or not list((out / "episodes").glob("*.jsonl.gz"))  # nothing ran
    finally:
        proc.kill()
        proc.wait()
    res = _cli(*SWEEP, "-o", str(out))  # the holder is dead: its lock is stale
    assert res.exit_code == 0, res.output
    assert len(list((out / "episodes").glob("*.jsonl.gz"))) == 2


def test_stale_cleanup_never_touches_a_live_writers_temp_files(tmp_path):
    rd = RunDir(tmp_path / "r")
    rd.episodes_dir.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = rd.episodes_dir / f".x.json.{proc.pid}.tmp"
        dead = rd.episodes_dir / ".y.json.999999999.tmp"
        live.write_text("{")
        dead.write_text("{")
        rd.clean_stale()
        assert live.exists() and not dead.exists()
    finally:
        proc.kill()
        proc.wait()


def test_resume_moves_damaged_files_aside_and_reruns_them(tmp_path):
    out = tmp_path / "r"
    assert _cli(*SWEEP, "-o", str(out)).exit_code == 0
    files = sorted((out / "episodes").glob("*.jsonl.gz"))
    good = _records(files)
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) - 20])  # partial (a full disk, a copy cut short): its first line reads
    files[1].write_text("")  # empty
    res = _cli("resume", str(out), "--no-progress", "--no-preflight")
    assert res.exit_code == 0, res.output
    assert "2 to run" in res.output
    damaged = sorted(p.name for p in (out / "damaged").iterdir())
    assert len(damaged) == 2  # kept, never deleted
    assert _records((out / "episodes").glob("*.jsonl.gz")) == good  # re-run, identical
    assert len((out / "scores.jsonl").read_text().splitlines()) == 2


def test_harmless_changes_are_allowed_and_recorded_result_changes_refused(tmp_path):
    out = tmp_path / "r"
    assert _cli(*SWEEP, "-o", str(out)).exit_code == 0
    res = _cli(*SWEEP, "--no-cache", "--api-base", "http://127.0.0.1:9/v1", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "2 done, 0 to run" in res.output  # same episodes: ids do not depend on where a model is served
    changes = json.loads((out / "config.json").read_text())["changes"]
    assert set(changes[-1]["fields"]) == {"extra.cache", "extra.api_base"}
    res = _cli(*SWEEP, "--max-rounds", "7", "--seed", "3", "-o", str(out))
    assert res.exit_code != 0 and "max_rounds" in res.output and "seed" in res.output


def test_lock_is_released_at_exit(tmp_path):
    out = tmp_path / "r"
    subprocess.run([sys.executable, "-c", "import sys; from silo.rundir import RunDir; RunDir(sys.argv[1]).lock()",
                    str(out)], check=True)
    assert not (out / ".lock").exists()


def _foreign_lock(out, age_s):
    """A lock as silo on another host writes it (a run directory on a shared file system), touched age_s ago."""
    out.mkdir(parents=True, exist_ok=True)
    lock = out / ".lock"
    lock.write_text(json.dumps({"pid": 1234, "host": "other-host.example", "since": time.time() - age_s}))
    os.utime(lock, (time.time() - age_s,) * 2)
    return lock


def test_a_fresh_lock_from_another_host_is_refused_naming_the_host(tmp_path):
    out = tmp_path / "r"
    lock = _foreign_lock(out, 5)
    res = _cli(*SWEEP, "-o", str(out))
    assert res.exit_code != 0 and "other-host.example" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and str(lock) in res.output
    assert json.loads(lock.read_text())["host"] == "other-host.example"  # left as it was
    assert not (out / "episodes").exists() or not list((out / "episodes").glob("*.jsonl.gz"))


def test_a_lock_from_another_host_untouched_for_stale_seconds_is_taken_over(tmp_path):
    out = tmp_path / "r"
    _foreign_lock(out, rundir_lock.STALE + 30)
    res = _cli(*SWEEP, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert len(list((out / "episodes").glob("*.jsonl.gz"))) == 2


def test_the_holder_keeps_its_lock_fresh_until_it_releases_it(tmp_path):
    out = tmp_path / "r"
    code = ("import sys, time; from silo import rundir_lock; rundir_lock.HEARTBEAT = 0.05; "
            "from silo.rundir import RunDir; rd = RunDir(sys.argv[1]); rd.lock(); print('locked', flush=True); "
            "sys.stdin.readline(); rd.unlock(); print('released', flush=True); sys.stdin.readline()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        lock = out / ".lock"
        old = time.time() - 3600
        os.utime(lock, (old, old))
        deadline = time.time() + 10
        while lock.stat().st_mtime < old + 1 and time.time() < deadline:
            time.sleep(0.05)
        assert lock.stat().st_mtime > time.time() - 60  # touched again by the holder's heartbeat
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released" and not lock.exists()
    finally:
        proc.kill()
        proc.wait()
