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


DRAW_IN_TWO = """
import os, sys
from pathlib import Path
import numpy as np
from silo import plot_draw, report_plots
assert "polars" not in sys.modules, "the drawing half imports polars"
out = Path(sys.argv[1])
jobs = [("comm", {"matrix": np.arange(k * k).reshape(k, k) % 5, "title": f"k={k}"}, out / f"{k}.png")
        for k in (3, 4, 30)]
if sys.argv[2] == "crash":  # the forked drawing process dies: its plots are drawn here instead
    me, draw = os.getpid(), plot_draw.draw
    plot_draw.draw = lambda todo: draw(todo) if os.getpid() == me else os._exit(3)
print([p.name for p in report_plots._draw_in_two(jobs)])
"""


def test_the_worker_draws_in_two_processes_and_survives_the_second_one_dying(tmp_path):
    out = {}
    for how in ("ok", "crash", "inline"):
        out[how] = tmp_path / how
        out[how].mkdir()
        code = DRAW_IN_TWO.replace("report_plots._draw_in_two(jobs)", "plot_draw.draw(jobs)") if how == "inline" \
            else DRAW_IN_TWO
        p = subprocess.run([sys.executable, "-c", code, str(out[how]), how], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "['3.png', '4.png', '30.png']"
        assert ("second drawing process stopped" in p.stderr) == (how == "crash"), p.stderr
    for name in ("3.png", "4.png", "30.png"):
        assert (out["ok"] / name).read_bytes() == (out["inline"] / name).read_bytes() == \
            (out["crash"] / name).read_bytes(), name


ASIDE = """
import os, sys
from pathlib import Path
import numpy as np
from silo import plot_draw, report_plots
out = Path(sys.argv[1])
jobs = [("comm", {"matrix": np.arange(k * k).reshape(k, k) % 5, "title": f"k={k}"}, out / f"{k}.png")
        for k in (3, 4, 30, 5, 6)]
if sys.argv[2] == "crash":  # the drawing process beside the worker dies: its plots are drawn here instead
    me, draw = os.getpid(), plot_draw.draw
    plot_draw.draw = lambda todo: draw(todo) if os.getpid() == me else os._exit(3)
report_plots._draw_aside(jobs[:2])  # returns at once: the two are drawn beside this process
assert report_plots._ASIDE or sys.argv[2] != "ok"
print([p.name for p in report_plots._draw_in_two(jobs[2:])], sorted(p.name for p in out.iterdir()))
"""


def test_the_heatmaps_drawn_aside_are_waited_for_and_redrawn_if_their_process_dies(tmp_path):
    import numpy as np

    from silo import plot_draw

    ref = tmp_path / "ref"
    ref.mkdir()
    plot_draw.draw([("comm", {"matrix": np.arange(k * k).reshape(k, k) % 5, "title": f"k={k}"}, ref / f"{k}.png")
                    for k in (3, 4, 30, 5, 6)])
    for how in ("ok", "crash"):
        out = tmp_path / how
        out.mkdir()
        p = subprocess.run([sys.executable, "-c", ASIDE, str(out), how], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "['30.png', '5.png', '6.png'] ['3.png', '30.png', '4.png', '5.png', '6.png']"
        assert ("second drawing process stopped" in p.stderr) == (how == "crash"), p.stderr
        for name in ("3.png", "4.png", "30.png", "5.png", "6.png"):
            assert (out / name).read_bytes() == (ref / name).read_bytes(), (how, name)


SET_DOCS = """
import matplotlib.artist as artist
kwdoc, update = artist.kwdoc, artist.Artist._update_set_signature_and_docstring
from silo import report_plots
report_plots._warm()
import matplotlib.lines, silo.plot_draw
assert artist.kwdoc is kwdoc and artist.Artist._update_set_signature_and_docstring == update
assert "Supported properties" not in (matplotlib.lines.Line2D.set.__doc__ or "")
assert matplotlib.lines.Line2D.set._autogenerated_signature
class Later(artist.Artist):
    pass
assert "Supported properties" in Later.set.__doc__  # restored: a class defined afterwards gets its docstring
print("ok")
"""


def test_the_worker_imports_matplotlib_without_writing_set_docstrings_then_restores_matplotlib():
    # the files it draws that way are the same as in-process drawings (test_a_forked_plot_worker_draws_the_same_report)
    p = subprocess.run([sys.executable, "-c", SET_DOCS], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"
