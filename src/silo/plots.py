"""PNG plots of a report (matplotlib, Agg backend): S/P/H vs N, gap decomposition, heatmaps."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402  (what a tight_layout() call leaves)

from silo.analysis import Tables  # noqa: E402
from silo.metrics import aggregate  # noqa: E402
from silo.records import OUTCOMES  # noqa: E402
from silo.report_plots import pick_episodes  # noqa: E402  (re-exported: it needs no matplotlib)

OUTCOME_COLORS = {"correct": "#2ca02c", "lucky": "#98df8a", "uninformed": "#ff7f0e", "relay_loss": "#ffd92f",
                  "integration_error": "#d62728", "no_answer": "#7f7f7f"}
MAX_CONFIGS = 8
HEATMAP_MAX_CELLS = 24  # a sender x receiver heatmap is drawn at most this many 0.45-inch cells wide
DPI = 110


def slug(text: str) -> str:
    """A file-name-safe version of a label."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"


def _save(fig, path: Path) -> Path:
    """The figure as a PNG cropped to what it draws: savefig(bbox_inches="tight") without the draw it makes
    first, where no layout engine needs one. That draw paints nothing and lays out every tick and text once more
    (about a fifth of a heatmap's time); the tight box is measured here directly at the file's DPI, and the
    file is the same pixel for pixel (tests/test_plots_pixels.py)."""
    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):  # e.g. constrained layout
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    else:
        fig.set_layout_engine(None)  # the tight layout already made: nothing to redo while saving
        dpi, fig.dpi = fig.dpi, DPI
        pad = matplotlib.rcParams["savefig.pad_inches"]
        box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad)
        fig.dpi = dpi
        fig.savefig(path, dpi=DPI, bbox_inches=box)
    plt.close(fig)
    return path


def _err(df: pl.DataFrame, m: str) -> np.ndarray:
    v, lo, hi = (df.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (m, f"{m}_lo", f"{m}_hi"))
    return np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0) * 100


def s_p_h_vs_n(eps: pl.DataFrame, path: Path) -> Path:
    """S, P, H (rows) vs N per level (columns) on shared axes, one line per team configuration (protocols pooled);
    N = 1 is each configuration's no-protocol baseline."""
    agg = aggregate(eps, ["config", "level", "n_agents"], metrics=["S", "P", "H"], intervals=["S", "P", "H"])
    levels = sorted(agg.get_column("level").unique().to_list())
    configs = agg.get_column("config").unique(maintain_order=True).to_list()[:MAX_CONFIGS]
    ns = sorted(agg.get_column("n_agents").unique().to_list())
    fig, axes = plt.subplots(3, len(levels), figsize=(3.6 * len(levels) + 2.8, 7.5), squeeze=False, sharex=True,
                             sharey=True)
    colors = plt.get_cmap("tab10")
    for col, level in enumerate(levels):
        for k, cfg in enumerate(configs):
            d = agg.filter((pl.col("level") == level) & (pl.col("config") == cfg)).sort("n_agents")
            if d.is_empty():
                continue
            x = d.get_column("n_agents").to_numpy() * (1 + 0.012 * (k - (len(configs) - 1) / 2))
            for row, m in enumerate(["S", "P", "H"]):
                axes[row][col].errorbar(x, d.get_column(m).to_numpy() * 100, yerr=_err(d, m), fmt="o-", ms=4,
                                        capsize=3, lw=1.4, color=colors(k % 10),
                                        label=cfg if (row, col) == (0, 0) else None)
        for row, m in enumerate(["S", "P", "H"]):
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


def gap_decomposition(eps: pl.DataFrame, path: Path) -> Path:
    """Stacked bars of the six outcome shares per configuration and level (N >= 2)."""
    agg = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "level"], metrics=list(OUTCOMES), intervals=[])
    labels = [f"{c} | L{lv}" for c, lv in zip(agg.get_column("config"), agg.get_column("level"), strict=True)]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(labels) + 1.6))
    left = np.zeros(len(labels))
    order = ["correct", "lucky", "integration_error", "relay_loss", "uninformed", "no_answer"]
    for o in order:
        v = agg.get_column(o).fill_null(0).to_numpy() * 100
        ax.barh(labels, v, left=left, color=OUTCOME_COLORS[o], label=o, edgecolor="white", linewidth=0.5)
        left += v
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of agents (%)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Outcome decomposition (N >= 2): S = correct + lucky; H - S = integration_error - lucky (+ held "
                 "no-answers)", fontsize=9)
    return _save(fig, path)


def protocol_level_heatmap(eps: pl.DataFrame, path: Path, metric: str = "S") -> Path:
    """One protocol x level heatmap of a metric per configuration (N >= 2), cells annotated with value and n."""
    agg = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "protocol", "level"], metrics=[metric],
                    intervals=[])
    configs = agg.get_column("config").unique(maintain_order=True).to_list()[:MAX_CONFIGS]
    protocols = sorted(agg.get_column("protocol").unique().to_list())
    levels = sorted(agg.get_column("level").unique().to_list())
    cols = min(len(configs), 4)
    rows = -(-len(configs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 + 1.2 * len(levels) * cols, 1.0 + 1.0 * len(protocols) * rows),
                             squeeze=False, layout="constrained")
    im = None
    for i, cfg in enumerate(configs):
        ax = axes[i // cols][i % cols]
        grid = np.full((len(protocols), len(levels)), np.nan)
        ns = np.zeros_like(grid, dtype=int)
        for r in agg.filter(pl.col("config") == cfg).iter_rows(named=True):
            grid[protocols.index(r["protocol"]), levels.index(r["level"])] = r[metric] * 100
            ns[protocols.index(r["protocol"]), levels.index(r["level"])] = r["episodes"]
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


def comm_heatmap(links: pl.DataFrame, n: int, title: str, path: Path) -> Path:
    """Sender x receiver message counts of one episode (`links`: sender, receiver, n as in Tables.links)."""
    m = np.zeros((n, n), dtype=int)
    for s, r, k in links.filter(pl.col("receiver").is_not_null()).select("sender", "receiver", "n").iter_rows():
        m[s, r] += k
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


def standard_plots(eps: pl.DataFrame, out: Path) -> list[tuple[Path, str]]:
    """Every standard plot of a report with its caption (eps must carry the `config` column); a plot with
    nothing to show is left out."""
    ok = eps.filter(pl.col("status") != "error")
    out_plots = []
    if ok.height:
        out_plots.append((s_p_h_vs_n(ok, out / "s_p_h_vs_n.png"),
                          "S, P and H (rows) against the number of agents N for each level (columns): one line per "
                          "team configuration on shared axes, protocols pooled, bars are 95% intervals; N = 1 is "
                          "the single agent with the whole input."))
    if ok.filter(pl.col("n_agents") > 1).height:
        out_plots.append((gap_decomposition(ok, out / "gap_decomposition.png"),
                          "Where the answers went wrong: the outcome shares of agents (N >= 2) per team "
                          "configuration and level, summing to 100%."))
        out_plots.append((protocol_level_heatmap(ok, out / "protocol_level_heatmap.png"),
                          "Success S by protocol (rows) and level (columns) for each team configuration (N >= 2), "
                          "on one colour scale; each cell gives S in percent and n episodes."))
    return out_plots


def episode_heatmaps(t: Tables, out: Path, ids: list[str] | None = None) -> list[tuple[Path, str]]:
    """Sender x receiver heatmaps with captions for the given episodes (default: pick_episodes); an episode
    without any message is left out (an all-zero panel says nothing)."""
    paths = []
    for eid in ids if ids is not None else pick_episodes(t):
        row = t.episodes.filter(pl.col("episode_id") == eid)
        if row.is_empty():
            raise KeyError(f"episode {eid!r} is not in the runs given")
        r = row.row(0, named=True)
        links = t.links.filter(pl.col("episode_id") == eid) if len(t.links) else t.links
        if not len(links) or links.filter(pl.col("receiver").is_not_null()).is_empty():
            continue
        title = f"{eid}\n{r['team']} {r['protocol']} N={r['n_agents']} S={100 * (r['S'] or 0):.0f}%"
        caption = (f"Who talked to whom in episode {eid} ({r['team']}, {r['protocol']}, N = {r['n_agents']}): "
                   "messages from each sender (rows) to each receiver (columns); under the shared file system, "
                   "reads of another agent's files.")
        paths.append((comm_heatmap(links, r["n_agents"], title, out / f"comm_{slug(eid)}.png"), caption))
    return paths
