"""The drawing half of the report's plots (matplotlib, Agg backend): each plot from a plain spec of numbers
and labels that plots.py computes from the tables. This module imports neither polars nor the rest of silo,
so the plot worker (report_plots) that draws from specs imports matplotlib and numpy only."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402  (what a tight_layout() call leaves)

OUTCOME_COLORS = {"correct": "#2ca02c", "lucky": "#98df8a", "uninformed": "#ff7f0e", "relay_loss": "#ffd92f",
                  "integration_error": "#d62728", "no_answer": "#7f7f7f"}
SPH = ["S", "P", "H"]
HEATMAP_MAX_CELLS = 24  # a sender x receiver heatmap is drawn at most this many 0.45-inch cells wide
DPI = 110
# zlib's fastest: the same pixels as the default level, in files ~29% larger, for ~50 ms less CPU on the oracle
# grid's 6 plots (docs/benchmarks.md, session 12 helper A)
PNG_LEVEL = 1


def _save(fig, path: Path) -> Path:
    """The figure as a PNG cropped to what it draws: savefig(bbox_inches="tight") without the draw it makes
    first. That draw paints nothing: it runs the layout engine (constrained layout) and lays out every tick and
    text once more (about a fifth of a heatmap's time); here the engine, if any, is run once directly, the tight
    box measured at the file's DPI, and the file is the same pixel for pixel (tests/test_plots_pixels.py)."""
    engine = fig.get_layout_engine()
    dpi, fig.dpi = fig.dpi, DPI
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):  # e.g. constrained layout
        engine.execute(fig)  # at the file's DPI, as savefig's pre-draw would
    fig.set_layout_engine(None)  # the layout is made: nothing to redo while saving
    pad = matplotlib.rcParams["savefig.pad_inches"]
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad)
    fig.dpi = dpi
    fig.savefig(path, dpi=DPI, bbox_inches=box, pil_kwargs={"compress_level": PNG_LEVEL})
    plt.close(fig)
    return path


def s_p_h(spec: dict, path: Path) -> Path:
    """S, P, H (rows) vs N per level (columns): spec from plots.s_p_h_spec."""
    levels, configs, ns = spec["levels"], spec["configs"], spec["ns"]
    fig, axes = plt.subplots(3, len(levels), figsize=(3.6 * len(levels) + 2.8, 7.5), squeeze=False, sharex=True,
                             sharey=True)
    colors = plt.get_cmap("tab10")
    lines: dict[int, list] = {}
    for col, k, x, ys in spec["lines"]:
        lines.setdefault(col, []).append((k, x, ys))
    for col, level in enumerate(levels):
        for k, x, ys in lines.get(col, []):
            for row, (y, err) in enumerate(ys):
                axes[row][col].errorbar(x, y, yerr=err, fmt="o-", ms=4, capsize=3, lw=1.4, color=colors(k % 10),
                                        label=configs[k] if (row, col) == (0, 0) else None)
        for row, m in enumerate(SPH):
            ax = axes[row][col]
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(f"{m} (%)")
            if row == 0:
                ax.set_title(f"level {level}")
            if row == 2:
                ax.set_xlabel("N agents")
    # every panel shares both axes (their scale, limits and tickers): set once, not once per panel
    axes[0][0].set_xscale("log")
    axes[0][0].set_xticks(ns, [str(n) for n in ns])
    axes[0][0].minorticks_off()
    axes[0][0].set_ylim(-5, 105)
    fig.legend(loc="upper left", bbox_to_anchor=(1.0, 0.95), title="team configuration", fontsize=8)
    fig.suptitle("S, P, H vs N (95% intervals), protocols pooled")
    fig.tight_layout()
    return _save(fig, path)


def gap(spec: dict, path: Path) -> Path:
    """Stacked bars of the six outcome shares per configuration and level: spec from plots.gap_spec."""
    labels = spec["labels"]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(labels) + 1.6))
    left = np.zeros(len(labels))
    for o, v in spec["bars"]:
        ax.barh(labels, v, left=left, color=OUTCOME_COLORS[o], label=o, edgecolor="white", linewidth=0.5)
        left += v
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of agents (%)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Outcome decomposition (N >= 2): S = correct + lucky; H - S = integration_error - lucky (+ held "
                 "no-answers)", fontsize=9)
    return _save(fig, path)


def protocol_level(spec: dict, path: Path) -> Path:
    """One protocol x level heatmap per configuration, cells annotated: spec from plots.protocol_level_spec."""
    configs, protocols, levels, metric = spec["configs"], spec["protocols"], spec["levels"], spec["metric"]
    cols = min(len(configs), 4)
    rows = -(-len(configs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 + 1.2 * len(levels) * cols, 1.0 + 1.0 * len(protocols) * rows),
                             squeeze=False, layout="constrained")
    im = None
    for i, (cfg, grid, ns) in enumerate(zip(configs, spec["grids"], spec["ns"], strict=True)):
        ax = axes[i // cols][i % cols]
        im = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (a, b), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(b, a, f"{v:.0f}\nn={ns[a, b]}", ha="center", va="center", fontsize=9,
                        color="white" if v < 60 else "black")
        ax.set_xticks(range(len(levels)), [f"L{lv}" for lv in levels])
        ax.set_yticks(range(len(protocols)), protocols if i % cols == 0 else [])
        ax.set_title(cfg, fontsize=9)
    for j in range(len(configs), rows * cols):
        axes[j // cols][j % cols].axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label=f"{metric} (%)")
    fig.suptitle(f"{metric} by protocol and level (N >= 2)")
    return _save(fig, path)


def comm(spec: dict, path: Path) -> Path:
    """Sender x receiver message counts of one episode: spec from plots.comm_spec (an n x n matrix, a title)."""
    m, title = spec["matrix"], spec["title"]
    n = len(m)
    side = 0.45 * min(n, HEATMAP_MAX_CELLS)  # beyond 24 agents the cells shrink: the canvas stays ~12 inches
    fig, ax = plt.subplots(figsize=(1.2 + side, 1.0 + side))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, int(m.max())))
    if n <= 20:
        for (a, b), v in np.ndenumerate(m):
            ax.text(b, a, str(v), ha="center", va="center", fontsize=7, color="white" if v > m.max() / 2 else "black")
    ticks = range(n) if n <= 20 else range(0, n, max(1, n // 10))
    ax.set_xticks(list(ticks))
    ax.set_yticks(list(ticks))
    ax.set_xlabel("receiver")
    ax.set_ylabel("sender")
    ax.set_title(title, fontsize=8)
    cb = fig.colorbar(im, ax=ax, shrink=0.8, label="messages (sent, or files read)")
    cb.locator = matplotlib.ticker.MaxNLocator(integer=True)
    cb.update_ticks()
    return _save(fig, path)


DRAW = {"s_p_h": s_p_h, "gap": gap, "protocol_level": protocol_level, "comm": comm}


def draw(jobs: list[tuple[str, dict, Path]]) -> list[Path]:
    """Draw every (kind, spec, path) job in order."""
    return [DRAW[kind](spec, Path(path)) for kind, spec, path in jobs]


def cost(kind: str, spec: dict) -> float:
    """About how many seconds of CPU a job takes to draw (fitted on the reference runs' reports: the oracle
    grid and the seven teams' grid), for drawing the longest first (report_plots)."""
    if kind == "s_p_h":
        return 1.2 + 0.03 * len(spec["lines"])
    if kind == "comm":
        n = len(spec["matrix"])
        return 0.3 + 0.0022 * n * n if n <= 20 else 0.37  # a label per cell up to 20 agents
    if kind == "protocol_level":
        return 0.06 + 0.16 * len(spec["configs"])
    return 0.24 + 0.019 * len(spec["labels"])
