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
import time
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


def split(todo: list[tuple[str, dict, Path]], preload: float = 0.0) -> tuple[list, list]:
    """The drawing jobs in two shares of about the same drawing time (plot_draw.cost), each in their order;
    `preload`: the drawing time the second share has already."""
    from silo import plot_draw

    costs = [plot_draw.cost(kind, spec) for kind, spec, _ in todo]
    load, share = [0.0, preload], [0] * len(todo)
    for i in sorted(range(len(todo)), key=lambda i: -costs[i]):  # the longest first, each to the lighter share
        share[i] = int(load[1] < load[0])
        load[share[i]] += costs[i]
    return [j for j, s in zip(todo, share, strict=True) if s == 0], [j for j, s in zip(todo, share, strict=True) if s]


_ASIDE: list = []  # in the worker: the drawing process beside it (_fork): [process, pipe, jobs sent, start time]


def _drain(jobs, conn) -> None:
    """Run in a drawing process beside the worker: draw every batch of jobs the worker sends, until None."""
    from silo import plot_draw

    conn[1].close()  # the worker's end: when the worker is gone, recv() ends instead of waiting for ever
    while jobs is not None:
        plot_draw.draw(jobs)
        jobs = conn[0].recv()


def _fork(jobs: list[tuple[str, dict, Path]]):
    """A drawing process forked from this one (matplotlib is imported already: the fork costs no second
    import) as [process, pipe, jobs, its start time]: it draws `jobs`, then whatever is sent through the
    pipe, until None; None when this process may not fork (polars threads) or no process could be started."""
    if "fork" not in multiprocessing.get_all_start_methods() or "polars" in sys.modules:
        return None
    ctx = multiprocessing.get_context("fork")
    try:
        conn = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_drain, args=(jobs, conn), daemon=True)
        child.start()
    except OSError as e:
        log.debug("no second drawing process (%s)", e)
        return None
    conn[0].close()
    return [child, conn[1], list(jobs), time.monotonic()]


def _joined(aside: list) -> None:
    """Tell the drawing process beside the worker that no more jobs come, wait for it, and draw here whatever
    it could not draw."""
    from silo import plot_draw

    child, pipe, jobs, _ = aside
    try:
        pipe.send(None)
    except OSError:  # it is gone already
        pass
    pipe.close()
    child.join()
    if child.exitcode != 0:
        log.warning("the second drawing process stopped (exit code %s); drawing its plots here", child.exitcode)
        plot_draw.draw(jobs)


def _draw_aside(todo: list[tuple[str, dict, Path]]) -> None:
    """Run in the worker: start drawing the jobs (the heatmaps, known before the episode grain) in a process
    beside it (_fork) and return at once, so that the worker is free for the other plots (_draw_in_two); drawn
    here, before returning, when no process can be forked."""
    from silo import plot_draw

    if not todo:
        return
    aside = _fork(todo)
    if aside is None:
        plot_draw.draw(todo)
    else:
        _ASIDE.append(aside)


def _draw_in_two(todo: list[tuple[str, dict, Path]]) -> list[Path]:
    """Run in the worker: draw the jobs, a share of them in the drawing process beside it (forked now if
    _draw_aside started none; the share evens out what that process has left to draw, about its jobs' drawing
    time less the time since it started), the rest here."""
    from silo import plot_draw

    aside = _ASIDE.pop() if _ASIDE else None
    left = sum(plot_draw.cost(k, s) for k, s, _ in aside[2]) - (time.monotonic() - aside[3]) if aside else 0.0
    mine, theirs = split(todo, max(left, 0.0))
    if aside is not None and theirs:
        try:
            aside[1].send(theirs)
            aside[2] += theirs
        except OSError:  # it is gone: _joined draws what it had here
            mine = todo
    elif theirs:
        aside = _fork(theirs)
        mine = mine if aside is not None else todo
    plot_draw.draw(mine)
    if aside is not None:
        _joined(aside)
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


def start_heatmaps(pool: ProcessPoolExecutor | None, heads: pl.DataFrame, links: pl.DataFrame, out: Path,
                   heat_episodes: list[str] | None):
    """Start drawing the sender x receiver heatmaps in the worker, from the episodes' heads and the links alone
    (analysis.tables_from_facts gives them before it builds the episode grain); None when there is no worker.
    Pass the result to `start` as `aside`."""
    if pool is None:
        return None
    import polars as pl

    from silo import plots
    from silo.analysis import Tables

    t = Tables(heads, heads.clear(), pl.DataFrame(), links)
    ids = heat_episodes if heat_episodes is not None else pick_episodes(t)
    t.links = links.filter(pl.col("episode_id").is_in(ids)) if len(links) else links
    Path(out).mkdir(parents=True, exist_ok=True)
    todo = plots.heatmap_jobs(t, Path(out), ids)
    try:
        return pool.submit(_draw_aside, [j for j, _ in todo]), todo
    except (BrokenProcessPool, RuntimeError, OSError):
        return None


def start(pool: ProcessPoolExecutor | None, t, out: Path, heat_episodes: list[str] | None, aside=None):
    """Start drawing the plots of tables `t` into `out` in the worker: their specs are computed here, the
    worker draws them; None when there is no worker (then `result` draws them in the process). `aside`: the
    heatmaps already being drawn (start_heatmaps): only the standard plots are left to start."""
    if pool is None:
        return None
    import polars as pl

    from silo import plots
    from silo.report import with_config

    if aside is not None:
        todo, later = plots.standard_jobs(with_config(t.episodes), Path(out)), aside[1]
    else:
        ids = heat_episodes if heat_episodes is not None else pick_episodes(t)  # only their links are needed
        links = t.links.filter(pl.col("episode_id").is_in(ids)) if len(t.links) else t.links
        todo, later = jobs(with_config(t.episodes), links, Path(out), ids), []
    try:
        return pool.submit(_draw_in_two, [j for j, _ in todo]), todo + later
    except (BrokenProcessPool, RuntimeError, OSError):
        return None


def result(job, eps: pl.DataFrame, links: pl.DataFrame, out: Path,
           heat_episodes: list[str] | None) -> list[tuple[Path, str]]:
    """The plots of `start`'s job with their captions; drawn here when there was no job or its worker died."""
    if job is not None:
        future, todo = job
        try:
            paths = future.result()
            return list(zip(paths + [Path(p) for (_, _, p), _ in todo[len(paths):]], [c for _, c in todo],
                            strict=True))
        except BrokenProcessPool as e:
            log.warning("the plot worker stopped (%s); drawing the plots here", e)
            from silo import plot_draw

            return list(zip(plot_draw.draw([j for j, _ in todo]), [c for _, c in todo], strict=True))
    return draw(eps, links, out, heat_episodes)


def worth_a_worker(runs) -> bool:
    """Whether the runs hold enough episodes (MIN_EPISODES) for a worker to pay for its start."""
    from silo import episode_io

    return sum(len(episode_io.files(Path(r) / "episodes")) for r in runs) >= MIN_EPISODES
