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
