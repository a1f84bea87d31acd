"""A published benchmark version is reproducible exactly: runs on loaded instances equal generated runs."""

import pytest
from click.testing import CliRunner

from silo.cli import main


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _ok(args):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return res


def test_run_on_published_instances_reproduces_scores_and_resumes(tmp_path):
    base = ["--team", "oracle,premature", "--no-progress"]
    _ok(["run", *base, "--task", "I-01,II-14", "--n", "1,3", "-o", str(tmp_path / "run")])
    _ok(["publish", str(tmp_path / "run"), "--to-dir", str(tmp_path / "hf")])
    source = str(tmp_path / "hf" / "instances")
    _ok(["run", *base, "--instances", source, "-o", str(tmp_path / "rerun")])
    original = (tmp_path / "run" / "scores.jsonl").read_text()
    assert (tmp_path / "rerun" / "scores.jsonl").read_text() == original
    res = _ok(["resume", str(tmp_path / "rerun"), "--no-progress"])  # reloads the instances from the source
    assert "0 to run" in res.output


def test_instances_filtered_by_task_and_n(tmp_path):
    _ok(["run", "--team", "oracle", "--task", "I-01,II-14", "--n", "2,3", "--no-progress", "-o", str(tmp_path / "r")])
    _ok(["publish", str(tmp_path / "r"), "--to-dir", str(tmp_path / "hf")])
    res = _ok(["run", "--team", "oracle", "--instances", str(tmp_path / "hf" / "instances"), "--task", "II-14",
               "--n", "3", "--protocol", "p2p", "--no-progress", "-o", str(tmp_path / "one")])
    assert "1 episodes" in res.output


def test_missing_instances_source_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["run", "--team", "oracle", "--instances", str(tmp_path / "nope"),
                                    "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Traceback" not in res.output
