"""The report's plots, drawn in a worker process while the runs load and the tables build (a second core).

`silo report` opens the worker first, so that its imports (matplotlib is most of them) overlap the
loading, and hands it the episode table and the per-link sums when the tables are ready; the report
waits for the PNG files only when it writes report.md and report.html. Small runs draw in the process
itself (starting a worker costs more than it saves), and so does any run where no worker can be started.
The same function draws either way, so the files are the same.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)
MIN_EPISODES = 200  # below this many episodes the plots are drawn in the process itself


def draw(eps: pl.DataFrame, links: pl.DataFrame, out: Path, heat_episodes: list[str] | None) -> list[tuple[Path, str]]:
    """Every plot of a report with its caption: the standard plots of `eps` (the episode table with its
    `config` column) and the sender x receiver heatmaps of the chosen episodes (`links`: Tables.links)."""
    import polars as pl

    from silo import plots
    from silo.analysis import Tables

    out.mkdir(parents=True, exist_ok=True)
    t = Tables(eps, eps.clear(), pl.DataFrame(), links)
    return [*plots.standard_plots(eps, out), *plots.episode_heatmaps(t, out, heat_episodes)]


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
    """Run first in the worker: the imports of drawing, while the caller still loads the runs."""
    import silo.plots  # noqa: F401


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


def start(pool: ProcessPoolExecutor | None, t, out: Path, heat_episodes: list[str] | None) -> Future | None:
    """Start drawing the plots of tables `t` into `out` in the worker; None when there is none (then
    `result` draws them in the process)."""
    if pool is None:
        return None
    import polars as pl

    from silo.report import with_config

    ids = heat_episodes if heat_episodes is not None else pick_episodes(t)  # only their links cross over
    links = t.links.filter(pl.col("episode_id").is_in(ids)) if len(t.links) else t.links
    try:
        return pool.submit(draw, with_config(t.episodes), links, Path(out), ids)
    except (BrokenProcessPool, RuntimeError, OSError):
        return None


def result(job: Future | None, eps: pl.DataFrame, links: pl.DataFrame, out: Path,
           heat_episodes: list[str] | None) -> list[tuple[Path, str]]:
    """The plots of `submit`'s job; drawn here when there was no job or its worker died."""
    if job is not None:
        try:
            return job.result()
        except BrokenProcessPool as e:
            log.warning("the plot worker stopped (%s); drawing the plots here", e)
    return draw(eps, links, out, heat_episodes)


def worth_a_worker(runs) -> bool:
    """Whether the runs hold enough episodes (MIN_EPISODES) for a worker to pay for its start."""
    from silo import episode_io

    return sum(len(episode_io.files(Path(r) / "episodes")) for r in runs) >= MIN_EPISODES
