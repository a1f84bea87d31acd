"""`silo score` (score_jobs.write_run): rows come back from the workers as JSON lines, never rebuilt as records in
the parent; the files it writes are the bytes score_run writes in one process, bad files and unscorable episodes
included, and a worker killed mid-run still costs no row."""

import gzip
import json
import logging
import os
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo import episode_io, report_facts, score_jobs
from silo.cli import main
from silo.records import Episode
from silo.rundir import RunDir
from silo.score_jobs import score_run, write_run

SWEEP = ["run", "--team", "oracle,gossip", "--task", "I-01,II-11,III-21", "--n", "2,4",
         "--protocol", "p2p,broadcast", "--no-progress", "--no-preflight"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lines") / "r"
    res = CliRunner().invoke(main, [*SWEEP, "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock", "scores.jsonl", report_facts.SIDECAR))
    return dst


def _sidecar(d: Path) -> dict:
    return json.loads(gzip.decompress((d / report_facts.SIDECAR).read_bytes()))


def _spoil(d: Path) -> tuple[str, str]:
    """One file cut short (skipped) and one episode that cannot be scored (an error row)."""
    files = RunDir(d).episode_files()
    files[0].write_bytes(files[0].read_bytes()[:200])
    e = episode_io.load_dict(files[1])
    e["events"].append({"round": 1, "agent": 1, "kind": "deliver", "msg_id": 999})  # a message never sent
    episode_io.write(files[1].parent, Episode.model_validate(e))
    return files[0].name, e["id"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_write_run_writes_score_runs_bytes(run, tmp_path, caplog, jobs):
    ref, new = _copy(run, tmp_path / "ref"), _copy(run, tmp_path / "new")
    cut, bad = _spoil(ref)
    assert _spoil(new) == (cut, bad)
    serial = score_run(RunDir(ref), jobs=1)
    rd = RunDir(new)
    with caplog.at_level(logging.WARNING):
        n = write_run(rd, jobs=jobs)
    assert n == len(serial) == 23 and rd.skipped == [cut]
    assert (new / "scores.jsonl").read_bytes() == (ref / "scores.jsonl").read_bytes()
    assert _sidecar(new) == _sidecar(ref) and len(_sidecar(new)["files"]) == 23
    assert [s.status for s in serial if s.episode_id == bad] == ["error"]
    assert f"{cut} skipped" in caplog.text and f"episode {bad} could not be scored" in caplog.text


def test_write_run_survives_a_killed_worker(run, tmp_path, monkeypatch, caplog):
    if "fork" not in score_jobs.mp.get_all_start_methods():
        pytest.skip("needs forked workers")
    ref, new = _copy(run, tmp_path / "ref"), _copy(run, tmp_path / "new")
    score_run(RunDir(ref), jobs=1)
    parent, real = os.getpid(), score_jobs.score_episode
    victim = episode_io.episode_id(RunDir(run).episode_files()[7])

    def dies_in_a_worker(ep):  # only a kill breaks the pool
        if ep.id == victim and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(ep)

    monkeypatch.setattr(score_jobs, "score_episode", dies_in_a_worker)  # forked workers inherit it
    with caplog.at_level(logging.WARNING):
        assert write_run(RunDir(new), jobs=2) == 24
    assert "a scoring worker died" in caplog.text
    assert (new / "scores.jsonl").read_bytes() == (ref / "scores.jsonl").read_bytes()
    assert _sidecar(new) == _sidecar(ref)


def test_lines_are_the_records_json(run):
    files = RunDir(run).episode_files()[:4]
    rows = {r.path: r.score for r in score_jobs.score_files(files, jobs=1)}
    for r in score_jobs.score_lines(files, jobs=1):
        assert r.score == (rows[r.path].episode_id, rows[r.path].model_dump_json())


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_whose_scores_cannot_be_written_keeps_its_old_sidecar_and_leaves_no_temporary_file(run, tmp_path, jobs):
    # the sidecar is written while the episodes are scored, but only put in place once scores.jsonl is
    d = _copy(run, tmp_path / "r")
    old = b"an earlier sidecar"
    (d / report_facts.SIDECAR).write_bytes(old)
    (d / "scores.jsonl").mkdir()  # atomic_write cannot replace a directory
    from silo.rundir import RunDirError

    with pytest.raises(RunDirError, match="cannot write"):
        write_run(RunDir(d), jobs=jobs)
    with pytest.raises(RunDirError, match="cannot write"):
        score_run(RunDir(d), jobs=1)
    assert (d / report_facts.SIDECAR).read_bytes() == old
    assert not [p.name for p in d.iterdir() if ".tmp" in p.name]
