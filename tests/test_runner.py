"""Runner: resume after SIGKILL, shards and merge, budgets, unwritable and full disks."""

import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo.cli import main
from silo.episode import Turn
from silo.records import Event, RunConfig
from silo.runner import Budget, RunDir, expand, pending, run_specs, score_run

SILO = [sys.executable, "-m", "silo.cli"]
SWEEP = ["--team", "gossip,oracle", "--task", "I-01", "--n", "2,50,100", "--no-progress", "--concurrency", "1"]


def _scores(path: Path) -> list[str]:
    return (path / "scores.jsonl").read_text().splitlines()


def _files(path: Path) -> set[str]:
    return {f.name for f in (path / "episodes").glob("*.jsonl.gz")}


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run([*SILO, "run", *SWEEP, "-o", str(full)], check=True, capture_output=True)
    proc = subprocess.Popen([*SILO, "run", *SWEEP, "-o", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while len(_files(killed)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_files(killed))
    assert 0 < done_before < len(_files(full)), "the kill must land part-way through the run"
    subprocess.run([*SILO, "resume", str(killed), "--no-progress"], check=True, capture_output=True)
    assert _files(killed) == _files(full)
    assert _scores(killed) == _scores(full)
    assert not list((killed / "episodes").glob(".*.tmp"))


def test_resume_skips_completed_and_force_reruns(tmp_path):
    out = tmp_path / "r"
    args = ["run", "--team", "oracle", "--task", "I-01", "--n", "1,2", "--no-progress", "-o", str(out)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, args)
    assert "4 done, 0 to run" in again.output
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert "0 done, 4 to run" in forced.output


def test_different_config_in_same_dir_is_refused(tmp_path):
    out = str(tmp_path / "r")
    CliRunner().invoke(main, ["run", "--team", "oracle", "--task", "I-01", "--n", "2", "-o", out, "--no-progress"])
    res = CliRunner().invoke(main, ["run", "--team", "silent", "--task", "I-01", "--n", "2", "-o", out])
    assert res.exit_code == 2
    assert "differs in: teams" in res.output and "Traceback" not in res.output


def test_shards_merge_to_the_full_run(tmp_path):
    base = ["run", "--team", "oracle,premature", "--task", "I-01", "--n", "1,2,3", "--no-progress"]
    CliRunner().invoke(main, [*base, "-o", str(tmp_path / "full")])
    for i in range(3):
        res = CliRunner().invoke(main, [*base, "--shard", f"{i}/3", "-o", str(tmp_path / f"s{i}")])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "m"), *(str(tmp_path / f"s{i}") for i in range(3))])
    assert res.exit_code == 0, res.output
    assert _scores(tmp_path / "m") == _scores(tmp_path / "full")


class _TokenAgent:
    """A test agent that reports 100 tokens of model usage and submits at once."""

    def __init__(self, answer):
        self.answer = answer

    async def take_turn(self, turn: Turn) -> None:
        turn.log(Event(round=turn.round, agent=turn.agent, kind="model_call",
                       data={"input_tokens": 60, "output_tokens": 40}))
        from silo.records import Action

        turn.do(Action(name="submit_result", args={"answer": self.answer}))


def _token_factory(inst, cfg):
    return [_TokenAgent(inst.truth[a]) for a in range(inst.n_agents)]


def test_token_budget_stops_cleanly_and_resume_finishes(tmp_path):
    rc = RunConfig(tasks=["I-01"], n_agents=[1], protocols=["p2p"], teams=["oracle"], replicates=6)
    specs, rd = expand(rc), RunDir(tmp_path / "b")
    rd.init(rc)
    out = asyncio.run(run_specs(specs, rd, _token_factory, concurrency=1, budget=Budget(max_tokens=250)))
    assert out.stopped and "token budget" in out.stopped
    assert out.ran == 3  # 100, 200, 300 tokens: the 4th episode is not started
    todo, skipped = pending(specs, rd)
    assert (len(todo), skipped) == (3, 3)
    out2 = asyncio.run(run_specs(todo, rd, _token_factory, concurrency=1))
    assert out2.ran == 3 and not out2.stopped
    assert len(score_run(rd)) == 6


def test_unwritable_run_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["run", "--team", "oracle", "--task", "I-01", "--n", "2", "-o", str(blocker / "r")])
    assert res.exit_code == 2
    assert "cannot write run directory" in res.output and "Traceback" not in res.output


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # the N = 100 episode is ~180 KB compressed


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_full_disk_keeps_completed_episodes(tmp_path):
    out = tmp_path / "full"
    proc = subprocess.run([*SILO, "run", "--team", "gossip", "--task", "I-01", "--n", "2,100", "--protocol", "p2p",
                           "--concurrency", "1", "--no-progress", "-o", str(out)],
                          capture_output=True, text=True, preexec_fn=_limit_file_size)
    assert proc.returncode == 2, proc.stderr
    assert "File too large" in proc.stderr and "already written are intact" in proc.stderr
    assert "Traceback" not in proc.stderr
    eps = list(RunDir(out).episodes())  # the small episode was written whole and still loads
    assert [e.config.n_agents for e in eps] == [2] and eps[0].status == "complete"


def test_episode_files_round_trip_including_null_answers(tmp_path):
    from silo.records import Episode, EpisodeConfig, Submission
    from silo.tasks import get_task

    inst = get_task("I-01").make_instance(2)
    ep = Episode(id="e", config=EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="t"), instance=inst,
                 events=[], submissions=[Submission(agent=0, round=1, answer=None)], status="max_rounds", rounds=3)
    rd = RunDir(tmp_path)
    rd.episodes_dir.mkdir()
    rd.write_episode(ep)
    assert list(rd.episodes()) == [ep]
