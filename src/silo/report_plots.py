"""The report's plots, drawn in a worker process while the runs load and the tables build (a second core).

`silo report` opens the worker first, so that its imports (matplotlib and numpy only: plot_draw, never
polars) overlap the loading, and hands it the plots' specs (plots.py: numbers and labels computed from the
tables here) in two batches: the sender x receiver heatmaps as soon as the episodes' facts are read, the other
plots as soon as the episode table is built. The worker forks a second drawing process (matplotlib already
imported) that starts on the heatmaps at once; of the later batch the worker draws the longest plot itself,
and the two processes share the rest through a queue, each taking the next job when it is free. The report
waits for the PNG files only when it writes report.md and report.html. Small runs draw in the process itself
(starting a worker costs more than it saves), and so does any run where no worker can be started. The same
functions draw either way, so the files are the same."""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
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


_ASIDE: list = []  # in the worker: the drawing process beside it (_fork): [process, job queue, done queue, jobs]


def _take(jobs, done, worker: int) -> None:
    """Run in the drawing process beside the worker: draw the jobs of the queue they share one at a time, each
    reported done, until None (or until the worker is gone)."""
    from silo import plot_draw

    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != worker:
                return
            continue
        if job is None:
            return
        plot_draw.draw([job])
        done.put(str(job[2]))


def _fork():
    """A drawing process forked from this one (matplotlib is imported already: the fork costs no second import)
    that draws the jobs put in a queue (_take), as [process, job queue, done queue, jobs put]; None when this
    process may not fork (polars threads) or no process could be started."""
    if "fork" not in multiprocessing.get_all_start_methods() or "polars" in sys.modules:
        return None
    ctx = multiprocessing.get_context("fork")
    try:
        jobs, done = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=_take, args=(jobs, done, os.getpid()), daemon=True)
        child.start()  # before any put: the queue's feeder thread must not be forked
    except OSError as e:
        log.debug("no second drawing process (%s)", e)
        return None
    return [child, jobs, done, []]


def _put(aside: list, todo: list[tuple[str, dict, Path]]) -> None:
    aside[3] += todo
    for job in todo:
        aside[1].put(job)


def _draw_aside(todo: list[tuple[str, dict, Path]]) -> None:
    """Run in the worker: start drawing the jobs (the heatmaps, known before the episode grain) in a process
    beside it (_fork) and return at once, so that the worker is free for the other plots (_draw_in_two); drawn
    here, before returning, when no process can be forked."""
    from silo import plot_draw

    if not todo:
        return
    aside = _fork()
    if aside is None:
        plot_draw.draw(todo)
    else:
        _put(aside, todo)
        _ASIDE.append(aside)


def _draw_in_two(todo: list[tuple[str, dict, Path]]) -> list[Path]:
    """Run in the worker: draw the jobs here and in the drawing process beside it (forked now if _draw_aside
    started none): the longest job here at once, the others (longest first, after any heatmaps not yet drawn)
    taken from the queue the two processes share, by whichever is free; then draw here whatever that process
    could not draw (it stopped)."""
    from silo import plot_draw

    aside = _ASIDE.pop() if _ASIDE else _fork() if len(todo) > 1 else None
    if aside is None:
        plot_draw.draw(todo)
        return [Path(path) for _, _, path in todo]
    child, jobs, done, _ = aside
    order = sorted(todo, key=lambda j: -plot_draw.cost(j[0], j[1]))
    _put(aside, order[1:])
    jobs.put(None)  # one end for each process: whichever takes the first, the other takes the second
    jobs.put(None)
    drawn = {str(p) for p in plot_draw.draw(order[:1])}
    while (job := jobs.get()) is not None:
        drawn |= {str(p) for p in plot_draw.draw([job])}
    child.join()
    if child.exitcode != 0:
        while not done.empty():  # what it did draw
            drawn.add(done.get_nowait())
        log.warning("the second drawing process stopped (exit code %s); drawing its plots here", child.exitcode)
        plot_draw.draw([j for j in aside[3] if str(j[2]) not in drawn])
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
    loads the runs. The worker and the drawing process beside it only draw, so matplotlib is imported without
    the `set()` docstring and signature that it writes for each of its ~100 Artist classes as it defines them
    (from every setter's docstring: about 40% of the import's CPU); help() reads those, a drawing never does."""
    if "silo.plot_draw" in sys.modules:
        return
    import matplotlib.artist as artist

    kwdoc, update = artist.kwdoc, artist.Artist.__dict__.get("_update_set_signature_and_docstring")
    if update is not None:
        artist.kwdoc = lambda _cls: ""  # the properties' text that docstrings include
        artist.Artist._update_set_signature_and_docstring = classmethod(_mark_set)
    try:
        import silo.plot_draw  # noqa: F401
    finally:
        artist.kwdoc = kwdoc
        if update is not None:
            artist.Artist._update_set_signature_and_docstring = update


def _mark_set(cls) -> None:
    """What Artist._update_set_signature_and_docstring does, but the docstring and the signature: mark the
    class's set() as generated (matplotlib then generates its subclasses' set() too)."""
    cls.set._autogenerated_signature = True


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
        method = _start_method()
        if method == "fork":
            import numpy  # noqa: F401  (both processes need it: imported once, before the fork)
        try:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))
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
