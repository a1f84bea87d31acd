"""`silo report`'s plot worker forked from a process that has not imported polars: the same report files."""

import subprocess
import sys

from click.testing import CliRunner

from silo.cli import main

CHILD = """
import sys
from silo import report_plots
import silo.cli
assert "polars" not in sys.modules, "polars imported before the report starts its worker"
methods = []
start = report_plots._start_method
report_plots._start_method = lambda: methods.append(start()) or methods[-1]
report_plots.MIN_EPISODES = 1  # this small run gets a worker too
silo.cli.main(["report", sys.argv[1], "-o", sys.argv[2]], standalone_mode=False)
print(methods)
"""


def test_a_forked_plot_worker_draws_the_same_report(tmp_path):
    run, inline, forked = tmp_path / "run", tmp_path / "inline", tmp_path / "forked"
    res = CliRunner().invoke(main, ["run", "--team", "oracle", "--task", "I-01", "--n", "1,3", "--protocol", "p2p",
                                    "-o", str(run), "--no-progress"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["report", str(run), "-o", str(inline)])  # few episodes: drawn in-process
    assert res.exit_code == 0, res.output
    p = subprocess.run([sys.executable, "-c", CHILD, str(run), str(forked)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "['fork']"
    assert "warning" not in p.stderr.lower()  # e.g. polars warns when it is forked
    names = sorted(f.name for f in inline.iterdir())
    assert sorted(f.name for f in forked.iterdir()) == names and any(n.endswith(".png") for n in names)
    for name in names:
        assert (forked / name).read_bytes() == (inline / name).read_bytes(), name
