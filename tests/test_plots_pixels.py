"""plot_draw._save skips savefig's layout-only pre-draw: every plot of a report must still come out pixel for pixel
as savefig(bbox_inches="tight") draws it (the reference), on a real scripted-team run; its PNGs are compressed
at zlib's fastest level (the reference's: Pillow's default), the same bytes each time they are drawn."""

import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from PIL import Image

from silo import plot_draw, plots
from silo.analysis import load_runs
from silo.cli import main
from silo.report import with_config


def _reference_save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=plot_draw.DPI, bbox_inches="tight")
    plot_draw.plt.close(fig)
    return path


def _draw_all(t, eps, out: Path) -> list[Path]:
    out.mkdir()
    links = pl.DataFrame({"sender": [s for s in range(30) for _ in range(2)],
                          "receiver": [(s + k) % 30 for s in range(30) for k in (1, 7)], "n": [1, 3] * 30})
    wide = plots.comm_heatmap(links, 30, "thirty agents\nbroadcast", out / "wide.png")  # no cell labels above 20
    return [p for p, _ in plots.standard_plots(eps, out)] + [p for p, _ in plots.episode_heatmaps(t, out)] + [wide]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "r"
    res = CliRunner().invoke(main, ["run", "--team", "oracle,premature", "--task", "I-01,II-11", "--n", "1,2,5",
                                    "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    return out


def test_saved_plots_match_savefig_tight_pixel_for_pixel(run_dir, tmp_path, monkeypatch):
    t = load_runs([run_dir], messages=False)
    eps = with_config(t.episodes)
    fast = _draw_all(t, eps, tmp_path / "fast")
    again = _draw_all(t, eps, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in fast]  # deterministic
    monkeypatch.setattr(plot_draw, "_save", _reference_save)
    ref = _draw_all(t, eps, tmp_path / "ref")
    assert [p.name for p in fast] == [p.name for p in ref] and len(fast) >= 5  # 3 standard, >= 1 episode, wide
    for a, b in zip(fast, ref, strict=True):
        x, y = np.asarray(Image.open(a)), np.asarray(Image.open(b))
        assert x.shape == y.shape, a.name
        assert (x == y).all(), f"{a.name}: {int((x != y).any(-1).sum())} pixels differ"
        assert (_zlib_level(a), _zlib_level(b)) == (0, 2), a.name  # FLEVEL 0: levels 0-1; 2: the default, 6


def _zlib_level(png: Path) -> int:
    """The compression level class of a PNG's first IDAT chunk, from its zlib header (RFC 1950: FLEVEL)."""
    data, at = png.read_bytes(), 8
    while True:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            return data[at + 9] >> 6
        at += 12 + size
