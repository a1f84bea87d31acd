"""The CLI: a newcomer's path works; bad input gives one line and a non-zero exit, never a traceback."""

import json

import pytest
from click.testing import CliRunner

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


def test_unreadable_episode_file_is_a_clear_error(tmp_path):
    out = tmp_path / "r"
    assert _run("run", "--team", "oracle", "--task", "I-01", "--n", "2", "--no-progress", "-o", str(out)).exit_code == 0
    next((out / "episodes").glob("*.json")).write_text("{not json")
    res = _run("score", str(out))
    assert res.exit_code == 2 and "unreadable episode file" in res.output


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
