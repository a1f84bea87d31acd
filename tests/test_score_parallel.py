"""`silo score` in worker processes: the same rows as in-process scoring, in the same order; unreadable files
skipped and named, unscorable episodes given their error row, and a worker killed mid-run costs nothing."""

import json
import logging
import os
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo import episode_io, score_jobs
from silo.cli import main
from silo.records import Episode
from silo.rundir import RunDir
from silo.runner import score_run

SWEEP = ["run", "--team", "oracle,gossip,premature", "--task", "I-01,II-11,III-21", "--n", "2,4",
         "--protocol", "p2p,broadcast", "--no-progress", "--no-preflight"]


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("par") / "r"
    res = _cli(*SWEEP, "-o", out)
    assert res.exit_code == 0, res.output
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock", "scores.jsonl"))
    return dst


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]


def test_workers_give_the_rows_of_one_process_in_the_same_order(run, tmp_path):
    one, two = _copy(run, tmp_path / "one"), _copy(run, tmp_path / "two")
    serial = score_run(RunDir(one), jobs=1)
    parallel = score_run(RunDir(two), jobs=2)
    assert len(serial) == 36 and parallel == serial
    assert (one / "scores.jsonl").read_bytes() == (two / "scores.jsonl").read_bytes()
    ids = [r["episode_id"] for r in _rows(two)]
    assert ids == sorted(ids) == sorted(episode_io.episode_id(f) for f in RunDir(two).episode_files())
    assert {r["team"] for r in _rows(two)} == {"oracle", "gossip", "premature"}
    assert {a["outcome"] for r in _rows(two) if r["team"] == "premature" for a in r["agents"]} != {"correct"}


def test_bad_files_and_unscorable_episodes_in_workers(run, tmp_path, caplog):
    out = _copy(run, tmp_path / "r")
    files = RunDir(out).episode_files()
    files[0].write_bytes(files[0].read_bytes()[:200])  # cut short: skipped and named
    d = episode_io.load_dict(files[1])
    d["events"].append({"round": 1, "agent": 1, "kind": "deliver", "msg_id": 999})  # a message never sent
    episode_io.write(files[1].parent, Episode.model_validate(d))
    rd = RunDir(out)
    with caplog.at_level(logging.WARNING):
        scores = score_run(rd, jobs=2)
    assert len(scores) == 35 and rd.skipped == [files[0].name]
    bad = [s for s in scores if s.episode_id == d["id"]]
    assert bad[0].status == "error" and "scoring failed" in bad[0].error and bad[0].success is None
    text = caplog.text  # the workers' problems are logged by the parent
    assert f"{files[0].name} skipped" in text and f"episode {d['id']} could not be scored" in text
    good = {s.episode_id: s for s in score_run(_run_copy(run, tmp_path / "ref"), jobs=1)}
    assert all(s == good[s.episode_id] for s in scores if s.episode_id != d["id"])


def _run_copy(run, dst):
    return RunDir(_copy(run, dst))


def test_a_worker_killed_mid_run_leaves_no_episode_unscored(run, tmp_path, monkeypatch, caplog):
    parent = os.getpid()
    victim = episode_io.episode_id(RunDir(run).episode_files()[5])
    real = score_jobs.score_episode

    def dies_in_a_worker(ep):  # a worker killed (out of memory, say) on one episode: only a kill does that
        if ep.id == victim and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(ep)

    monkeypatch.setattr(score_jobs, "score_episode", dies_in_a_worker)  # forked workers inherit it
    if "fork" not in score_jobs.mp.get_all_start_methods():
        pytest.skip("needs forked workers")
    with caplog.at_level(logging.WARNING):
        scores = score_run(_run_copy(run, tmp_path / "r"), jobs=2)
    assert "a scoring worker died" in caplog.text
    monkeypatch.setattr(score_jobs, "score_episode", real)
    assert scores == score_run(_run_copy(run, tmp_path / "ref"), jobs=1)


def test_a_worker_scores_an_instances_episodes_together():
    names = ["I-01-v2-n10-s0-r0-broadcast-oracle-1.jsonl.gz", "I-01-v2-n10-s0-r0-p2p-oracle-2.jsonl.gz",
             "I-01-v2-n10-s1-r0-p2p-oracle-3.jsonl.gz", "odd.jsonl.gz", "II-11-v1-n2-s0-r0-sfs-x-4.jsonl.gz",
             "II-11-v1-n2-s0-r1-sfs-x-5.jsonl.gz"] + [f"III-30-v1-n5-s0-r0-p{k}-t-{k}.jsonl.gz" for k in range(5)]
    files = [Path("/r/episodes") / n for n in names]
    got = score_jobs.groups(files, cap=3)
    assert [f for g in got for f in g] == files  # every file once, in order
    assert [len(g) for g in got] == [2, 1, 1, 2, 3, 2]  # per instance (seed, not repetition), capped, odd alone


def test_worker_counts():
    assert score_jobs.workers(None, 3) == 1  # a small run: in this process
    assert score_jobs.workers(None, 10_000) == (os.cpu_count() or 1)
    assert score_jobs.workers(8, 3) == 3 and score_jobs.workers(2, 3) == 2 and score_jobs.workers(4, 0) == 1
    with pytest.raises(ValueError, match="--jobs"):
        score_jobs.workers(0, 5)


def test_cli_score_jobs(run, tmp_path):
    out = _copy(run, tmp_path / "r")
    res = _cli("score", out, "--jobs", "2")
    assert res.exit_code == 0 and "scored 36 episodes" in res.output, res.output
    assert _rows(out) == _rows(run)
    res = _cli("score", out, "--jobs", "0")
    assert res.exit_code == 2 and "--jobs" in res.output


def _score_in(path):
    score_run(RunDir(path), jobs=2)


def test_a_daemonic_process_scores_in_itself(run, tmp_path):
    if "fork" not in score_jobs.mp.get_all_start_methods():
        pytest.skip("needs fork")
    out = _copy(run, tmp_path / "r")
    child = score_jobs.mp.get_context("fork").Process(target=_score_in, args=(out,), daemon=True)  # may not fork
    child.start()
    child.join(300)
    assert child.exitcode == 0 and _rows(out) == _rows(run)
