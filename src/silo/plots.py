"""PNG plots of a report: what each plot shows, computed from the tables (polars), as plain specs of numbers
and labels that plot_draw draws (matplotlib, Agg backend). `jobs` lists a report's plots as (kind, spec,
path) with their captions, so that a process which imports only plot_draw can draw them (report_plots)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl

from silo.analysis import Tables
from silo.metrics import aggregate
from silo.records import OUTCOMES
from silo.report_plots import pick_episodes  # noqa: F401  (re-exported: it needs no matplotlib)

MAX_CONFIGS = 8
GAP_ORDER = ["correct", "lucky", "integration_error", "relay_loss", "uninformed", "no_answer"]  # bars, left to right
SPH_CAPTION = ("S, P and H (rows) against the number of agents N for each level (columns): one line per team "
               "configuration on shared axes, protocols pooled, bars are 95% intervals; N = 1 is the single agent "
               "with the whole input.")
GAP_CAPTION = ("Where the answers went wrong: the outcome shares of agents (N >= 2) per team configuration and "
               "level, summing to 100%.")
PROTOCOL_CAPTION = ("Success S by protocol (rows) and level (columns) for each team configuration (N >= 2), on one "
                    "colour scale; each cell gives S in percent and n episodes.")


def slug(text: str) -> str:
    """A file-name-safe version of a label."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "x"


def _err(df: pl.DataFrame, m: str) -> np.ndarray:
    v, lo, hi = (df.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (m, f"{m}_lo", f"{m}_hi"))
    return np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0) * 100


def s_p_h_spec(eps: pl.DataFrame) -> dict:
    """S, P, H vs N per level, one line per team configuration (protocols pooled): levels, configs, the N
    ticks and per (level column, configuration) line its x and each metric's (y, error bars)."""
    agg = aggregate(eps, ["config", "level", "n_agents"], metrics=["S", "P", "H"], intervals=["S", "P", "H"])
    levels = sorted(agg.get_column("level").unique().to_list())
    configs = agg.get_column("config").unique(maintain_order=True).to_list()[:MAX_CONFIGS]
    lines = []
    for col, level in enumerate(levels):
        for k, cfg in enumerate(configs):
            d = agg.filter((pl.col("level") == level) & (pl.col("config") == cfg)).sort("n_agents")
            if d.is_empty():
                continue
            x = d.get_column("n_agents").to_numpy() * (1 + 0.012 * (k - (len(configs) - 1) / 2))
            lines.append((col, k, x, [(d.get_column(m).to_numpy() * 100, _err(d, m)) for m in ["S", "P", "H"]]))
    return {"levels": levels, "configs": configs, "ns": sorted(agg.get_column("n_agents").unique().to_list()),
            "lines": lines}


def gap_spec(eps: pl.DataFrame) -> dict:
    """The six outcome shares (percent, in the order of GAP_ORDER) per configuration and level (N >= 2)."""
    agg = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "level"], metrics=list(OUTCOMES), intervals=[])
    labels = [f"{c} | L{lv}" for c, lv in zip(agg.get_column("config"), agg.get_column("level"), strict=True)]
    return {"labels": labels, "bars": [(o, agg.get_column(o).fill_null(0).to_numpy() * 100) for o in GAP_ORDER]}


def protocol_level_spec(eps: pl.DataFrame, metric: str = "S") -> dict:
    """Per configuration (N >= 2) a protocol x level grid of a metric (percent, NaN where not run) and of n."""
    agg = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "protocol", "level"], metrics=[metric],
                    intervals=[])
    configs = agg.get_column("config").unique(maintain_order=True).to_list()[:MAX_CONFIGS]
    protocols = sorted(agg.get_column("protocol").unique().to_list())
    levels = sorted(agg.get_column("level").unique().to_list())
    grids, counts = [], []
    for cfg in configs:
        grid = np.full((len(protocols), len(levels)), np.nan)
        ns = np.zeros_like(grid, dtype=int)
        for r in agg.filter(pl.col("config") == cfg).iter_rows(named=True):
            grid[protocols.index(r["protocol"]), levels.index(r["level"])] = r[metric] * 100
            ns[protocols.index(r["protocol"]), levels.index(r["level"])] = r["episodes"]
        grids.append(grid)
        counts.append(ns)
    return {"configs": configs, "protocols": protocols, "levels": levels, "metric": metric, "grids": grids,
            "ns": counts}


def comm_spec(links: pl.DataFrame, n: int, title: str) -> dict:
    """Sender x receiver message counts of one episode (`links`: sender, receiver, n as in Tables.links)."""
    m = np.zeros((n, n), dtype=int)
    for s, r, k in links.filter(pl.col("receiver").is_not_null()).select("sender", "receiver", "n").iter_rows():
        m[s, r] += k
    return {"matrix": m, "title": title}


def standard_jobs(eps: pl.DataFrame, out: Path) -> list[tuple[tuple[str, dict, Path], str]]:
    """The standard plots of a report as ((kind, spec, path), caption) (eps must carry the `config` column);
    a plot with nothing to show is left out."""
    ok = eps.filter(pl.col("status") != "error")
    jobs = []
    if ok.height:
        jobs.append((("s_p_h", s_p_h_spec(ok), out / "s_p_h_vs_n.png"), SPH_CAPTION))
    if ok.filter(pl.col("n_agents") > 1).height:
        jobs.append((("gap", gap_spec(ok), out / "gap_decomposition.png"), GAP_CAPTION))
        jobs.append((("protocol_level", protocol_level_spec(ok), out / "protocol_level_heatmap.png"),
                     PROTOCOL_CAPTION))
    return jobs


def heatmap_jobs(t: Tables, out: Path, ids: list[str] | None = None) -> list[tuple[tuple[str, dict, Path], str]]:
    """Sender x receiver heatmaps as ((kind, spec, path), caption) for the given episodes (default:
    pick_episodes); an episode without any message is left out (an all-zero panel says nothing)."""
    jobs = []
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
        jobs.append((("comm", comm_spec(links, r["n_agents"], title), out / f"comm_{slug(eid)}.png"), caption))
    return jobs


def _drawn(jobs) -> list[tuple[Path, str]]:
    from silo import plot_draw

    return list(zip(plot_draw.draw([j for j, _ in jobs]), [c for _, c in jobs], strict=True))


def s_p_h_vs_n(eps: pl.DataFrame, path: Path) -> Path:
    """S, P, H (rows) vs N per level (columns) on shared axes, one line per team configuration (protocols pooled);
    N = 1 is each configuration's no-protocol baseline."""
    from silo import plot_draw

    return plot_draw.s_p_h(s_p_h_spec(eps), path)


def gap_decomposition(eps: pl.DataFrame, path: Path) -> Path:
    """Stacked bars of the six outcome shares per configuration and level (N >= 2)."""
    from silo import plot_draw

    return plot_draw.gap(gap_spec(eps), path)


def protocol_level_heatmap(eps: pl.DataFrame, path: Path, metric: str = "S") -> Path:
    """One protocol x level heatmap of a metric per configuration (N >= 2), cells annotated with value and n."""
    from silo import plot_draw

    return plot_draw.protocol_level(protocol_level_spec(eps, metric), path)


def comm_heatmap(links: pl.DataFrame, n: int, title: str, path: Path) -> Path:
    """Sender x receiver message counts of one episode (`links`: sender, receiver, n as in Tables.links)."""
    from silo import plot_draw

    return plot_draw.comm(comm_spec(links, n, title), path)


def standard_plots(eps: pl.DataFrame, out: Path) -> list[tuple[Path, str]]:
    """Every standard plot of a report with its caption (eps must carry the `config` column); a plot with
    nothing to show is left out."""
    return _drawn(standard_jobs(eps, out))


def episode_heatmaps(t: Tables, out: Path, ids: list[str] | None = None) -> list[tuple[Path, str]]:
    """Sender x receiver heatmaps with captions for the given episodes (default: pick_episodes); an episode
    without any message is left out (an all-zero panel says nothing)."""
    return _drawn(heatmap_jobs(t, out, ids))
