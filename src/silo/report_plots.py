"""The report's plots, drawn in a worker process while the runs load and the tables build (a second core).

`silo report` opens the worker first, so that its imports (matplotlib and numpy only: plot_draw, never
polars) overlap the loading, and hands it the plots' specs (plots.py: numbers and labels computed from the
tables here) as soon as the episode table and the per-link sums are ready; the worker forks a second drawing
process (matplotlib already imported) that draws about half of them (`split`), and the report waits for the
PNG files only when it writes report.md and report.html. Small runs draw in the process itself (starting a
worker costs more than it saves), and so does any run where no worker can be started. The same functions
draw either way, so the files are the same.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)
MIN_EPISODES = 200  # below this many episodes the plots are drawn in the process itself


def jobs(eps: pl.DataFrame, links: pl.DataFrame, out: Path, heat_episodes: list[str] | None) -> list[tuple]:
    """Every plot of a report as ((kind, spec, path), caption): the standard plots of `eps` (the episode table
    with its `config` column) and the sender x receiver heatmaps of the chosen episodes (`links`: Tables.links)."""
    import polars as pl

    from silo import plots
    from silo.analysis import Tables

    out.mkdir(parents=True, exist_ok=True)
    t = Tables(eps, eps.clear(), pl.DataFrame(), links)
    return [*plots.standard_jobs(eps, out), *plots.heatmap_jobs(t, out, heat_episodes)]


def draw(eps: pl.DataFrame, links: pl.DataFrame, out: Path, heat_episodes: list[str] | None) -> list[tuple[Path, str]]:
    """Every plot of a report with its caption (`jobs`), drawn in this process."""
    from silo import plot_draw

    todo = jobs(eps, links, out, heat_episodes)
    return list(zip(plot_draw.draw([j for j, _ in todo]), [c for _, c in todo], strict=True))


def split(todo: list[tuple[str, dict, Path]]) -> tuple[list, list]:
    """The drawing jobs in two shares of about the same drawing time (plot_draw.cost), each in their order."""
    from silo import plot_draw

    costs = [plot_draw.cost(kind, spec) for kind, spec, _ in todo]
    load, share = [0.0, 0.0], [0] * len(todo)
    for i in sorted(range(len(todo)), key=lambda i: -costs[i]):  # the longest first, each to the lighter share
        share[i] = int(load[1] < load[0])
        load[share[i]] += costs[i]
    return [j for j, s in zip(todo, share, strict=True) if s == 0], [j for j, s in zip(todo, share, strict=True) if s]


def _draw_in_two(todo: list[tuple[str, dict, Path]]) -> list[Path]:
    """Run in the worker: draw the jobs, a share of them in a process forked from this one (matplotlib is
    imported already: the fork costs no second import) when this process may fork (no polars threads);
    whatever that process could not draw is drawn here."""
    from silo import plot_draw

    mine, theirs = split(todo)
    child = None
    if theirs and "fork" in multiprocessing.get_all_start_methods() and "polars" not in sys.modules:
        try:
            child = multiprocessing.get_context("fork").Process(target=plot_draw.draw, args=(theirs,), daemon=True)
            child.start()
        except OSError as e:
            log.debug("no second drawing process (%s)", e)
            child = None
    plot_draw.draw(mine if child is not None else todo)
    if child is not None:
        child.join()
        if child.exitcode != 0:
            log.warning("the second drawing process stopped (exit code %s); drawing its plots here", child.exitcode)
            plot_draw.draw(theirs)
    return [Path(path) for _, _, path in todo]


def pick_episodes(t, k: int = 3) -> list[str]:
    """A few episodes worth a sender x receiver heatmap: per protocol, the busiest at the largest N."""
    import polars as pl

    if not len(t.links):
        return []
    counts = (t.links.group_by("episode_id", "run").agg(pl.col("n").sum().alias("m"))
              .join(t.episodes.select("episode_id", "run", "protocol", "n_agents", "team"), on=["episode_id", "run"]))
    llm_first = pl.when(pl.col("team") == "llm").then(0).otherwise(1)
    best = counts.sort([llm_first, pl.col("n_agents"), pl.col("m"), pl.col("episode_id")],
                       descending=[False, True, True, False]).unique("protocol", keep="first", maintain_order=True)
    return best.get_column("episode_id").to_list()[:k]


def _warm() -> None:
    """Run first in the worker: the imports of drawing (matplotlib, numpy: not polars), while the caller still
    loads the runs."""
    import silo.plot_draw  # noqa: F401


def _start_method() -> str:
    """Fork while this process has not imported polars yet (`silo report` starts the worker first): the worker
    then shares the imports made so far instead of making them again. Spawn otherwise: polars' threads must
    never be forked."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() and "polars" not in sys.modules else "spawn"


@contextmanager
def worker(enabled: bool = True) -> Iterator[ProcessPoolExecutor | None]:
    """A one-process pool that has started importing matplotlib, or None (disabled, one core, or no
    process could be started)."""
    pool = None
    if enabled and (os.cpu_count() or 1) > 1:
        try:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(_start_method()))
            pool.submit(_warm)
        except (OSError, RuntimeError, ImportError) as e:  # e.g. no semaphores in a sandbox
            log.debug("no plot worker (%s): plots are drawn in this process", e)
            pool = None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def start(pool: ProcessPoolExecutor | None, t, out: Path, heat_episodes: list[str] | None):
    """Start drawing the plots of tables `t` into `out` in the worker: their specs are computed here, the
    worker draws them; None when there is no worker (then `result` draws them in the process)."""
    if pool is None:
        return None
    import polars as pl

    from silo.report import with_config

    ids = heat_episodes if heat_episodes is not None else pick_episodes(t)  # only their links are needed
    links = t.links.filter(pl.col("episode_id").is_in(ids)) if len(t.links) else t.links
    todo = jobs(with_config(t.episodes), links, Path(out), ids)
    try:
        return pool.submit(_draw_in_two, [j for j, _ in todo]), todo
    except (BrokenProcessPool, RuntimeError, OSError):
        return None


def result(job, eps: pl.DataFrame, links: pl.DataFrame, out: Path,
           heat_episodes: list[str] | None) -> list[tuple[Path, str]]:
    """The plots of `start`'s job with their captions; drawn here when there was no job or its worker died."""
    if job is not None:
        future, todo = job
        try:
            return list(zip(future.result(), [c for _, c in todo], strict=True))
        except BrokenProcessPool as e:
            log.warning("the plot worker stopped (%s); drawing the plots here", e)
            from silo import plot_draw

            return list(zip(plot_draw.draw([j for j, _ in todo]), [c for _, c in todo], strict=True))
    return draw(eps, links, out, heat_episodes)


def worth_a_worker(runs) -> bool:
    """Whether the runs hold enough episodes (MIN_EPISODES) for a worker to pay for its start."""
    from silo import episode_io

    return sum(len(episode_io.files(Path(r) / "episodes")) for r in runs) >= MIN_EPISODES
