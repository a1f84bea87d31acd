"""Scoring episode files, in this process or in worker processes: one file per task, rows in any order.

Each task reads one episode file (only the events scoring reads) and scores it; what went wrong comes
back with the row as text and the parent logs it (a worker's log records never reach the parent's
handlers), and so do the facts `silo report` keeps of the episode (report_facts.entry, derived from the
same read: the report need not read the file again). Workers are forked where the platform can (the
task, protocol and team registries, plugins registered in code included, come along), else spawned
with the plugins of SILO_PLUGINS loaded; before forking, this process imports what every worker would
otherwise import for itself (the task modules, numpy with them). A worker that dies (killed, out of memory)
breaks the pool: the files not yet scored are then scored in this process, so every episode still gets its row.
`silo score` (write_run) has its workers send each row back as the JSON line scores.jsonl holds, not as an
EpisodeScore to pickle and rebuild: the parent only sorts and writes them (the same bytes as score_run's). The
sidecar's lines come back as text too, and the parent compresses each into the sidecar as it arrives
(report_facts.Sidecar, put in place once scores.jsonl is written): after the last file, little is left to do.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import multiprocessing as mp
import os
import pkgutil
import re
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from silo import episode_io, event_lines, report_facts, tasks
from silo.records import Episode, EpisodeScore
from silo.scoring import SCORED_KINDS, score_episode

if TYPE_CHECKING:
    from silo.rundir import RunDir

log = logging.getLogger("silo.runner")  # the logger these warnings always came from
MIN_PARALLEL = 16  # below this many files a default run scores in-process: a pool costs more than it saves
GROUP_CAP = 24  # files of one instance scored by one worker in a row (grid7: 21 per instance)
_INSTANCE = re.compile(r"^(.+-v\d+-n\d+-s\d+)-")  # an episode file's instance: task, version, N, seed


class Scored(NamedTuple):
    """What scoring one file gave: its row, or None and why the file could not be read."""

    path: Path
    score: EpisodeScore | None
    problem: str | None  # unreadable file (score None), or why the episode could not be scored (error row)
    facts: str | None = None  # the file's line in the report's sidecar (report_facts.line of its entry), if derived


class Line(NamedTuple):
    """Scored as `silo score` writes it: the row as its episode id and JSON line (EpisodeScore.model_dump_json,
    what RunDir.write_scores writes of it), or None and why the file could not be read."""

    path: Path
    score: tuple[str, str] | None
    problem: str | None
    facts: str | None = None


def as_line(r: Scored) -> Line:
    return Line(r.path, None if r.score is None else (r.score.episode_id, r.score.model_dump_json()),
                r.problem, r.facts)


def score_safely(ep: Episode) -> EpisodeScore:
    """score_episode, but an episode that cannot be scored gets an error row (with the reason), never raises."""
    score, problem = _score(ep)
    if problem:
        log.warning("%s", problem)
    return score


def _score(ep: Episode) -> tuple[EpisodeScore, str | None]:
    try:
        return score_episode(ep), None
    except Exception as e:  # hostile content or a scorer bug: this episode only
        problem = f"episode {ep.id} could not be scored: {type(e).__name__}: {str(e)[:200]}"
        bad = ep.model_copy(update={"status": "error", "error": f"scoring failed: {type(e).__name__}: {e}"[:500],
                                    "submissions": [], "events": []})
        return score_episode(bad), problem


def score_file(path: Path) -> Scored:
    """Read one episode file (the events scoring reads) and score it, and derive the report's facts of it from
    the same read (report_facts.entry); never raises for a bad file. The cyclic garbage collector pauses while
    it does (scoring allocates many objects that live until the file is done: the collector's passes over them
    cost ~18% of `silo score`) and collects the file's young objects once after."""
    collect = gc.isenabled()
    with event_lines.gc_paused():
        scored = _score_file(path)
    if collect:
        gc.collect(0)  # the file's cycles, in one pass (every object it made is still in the youngest generation)
    return scored


def _score_file(path: Path) -> Scored:
    try:
        raw = path.read_bytes()  # read once: stamped, then decompressed (a rewritten file's next stamp differs)
        file_stamp = report_facts.stamp(path, raw)
        # (a listing that found nothing changes no reach or evidence: Replay._on_list reads only its versions)
        ep = episode_io.read_scored(path, SCORED_KINDS, raw, skip_empty_listings=True)
        del raw  # not held while the episode is scored
    except (OSError, ValueError) as e:
        return Scored(path, None, str(e).splitlines()[0][:200])
    facts = report_facts.entry(file_stamp, ep)  # before scoring, which must not be able to change them
    return Scored(path, *_score(ep), None if facts is None else report_facts.line(facts))


def workers(jobs: int | None, files: int) -> int:
    """Worker processes for `files` files: `jobs` (default os.cpu_count(), and 1 for a small run), at most
    one per file; 1 means in this process (always inside a daemonic process, which may not have children)."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if mp.current_process().daemon:
        return 1
    n = jobs if jobs is not None else (os.cpu_count() or 1) if files >= MIN_PARALLEL else 1
    return max(1, min(n, files))


def score_files(files: list[Path], jobs: int | None = None, progress: bool = False) -> Iterator[Scored]:
    """Score every file, yielding as each finishes (completion order); a progress bar on stderr when asked
    and stderr is a terminal."""
    return _results(files, jobs, progress, lines=False)


def score_lines(files: list[Path], jobs: int | None = None, progress: bool = False) -> Iterator[Line]:
    """score_files, each row as its JSON line (as_line): in workers, made there."""
    return _results(files, jobs, progress, lines=True)


def _results(files: list[Path], jobs: int | None, progress: bool, lines: bool) -> Iterator[Scored | Line]:
    n = workers(jobs, len(files))
    bar = None
    if progress and files and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="ep", desc="scoring", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
    freeze = gc.get_freeze_count() == 0  # someone else's frozen objects are left alone: no policy then
    if freeze:
        gc.freeze()  # the objects of the imports and of the caller: never walked by a collection while scoring
    try:
        one = _score_kept if freeze else score_file
        for r in ((map(_line_of(one), files) if lines else map(one, files)) if n == 1
                  else _pooled(files, n, freeze, lines)):
            if bar is not None:
                bar.update(1)
            yield r
    finally:
        if bar is not None:
            bar.close()
        if freeze:
            gc.unfreeze()  # back in the oldest generation, collected as usual from now on


def groups(files: list[Path], cap: int = GROUP_CAP) -> list[list[Path]]:
    """The files in runs of one instance each (the name's task, version, N and seed), at most `cap` long: a
    worker scores an instance's episodes one after the other and shares the scorer's per-instance cache
    (silo.replay_cache) between them, instead of each worker deriving it again. Only where work lands, never
    what a score is: a name of another shape is a group of its own."""
    out: list[list[Path]] = []
    last = None
    for f in files:
        m = _INSTANCE.match(f.name)
        key = m.group(1) if m else None
        if key is None or key != last or len(out[-1]) >= cap:
            out.append([])
        out[-1].append(f)
        last = key
    return out


def _largest_first(gs: list[list[Path]]) -> list[list[Path]]:
    """Groups by their files' size, largest first (a large episode started last would leave one worker busy
    at the end while the other waits); a file that cannot be stat'ed counts as empty."""
    return sorted(gs, key=lambda g: sum(map(_size, g)), reverse=True)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _score_kept(path: Path) -> Scored:
    """score_file, then what outlived the file (its row and facts, the scorer's caches: long-lived) frozen, so
    that no later collection walks it again: each collection then walks only the young objects of one file
    (docs/benchmarks.md: the full collections walking every row and cache cost ~0.5 s of the oracle grid's
    `silo score`). Only inside score_files, which unfreezes at the end: a cycle among frozen objects that dies
    meanwhile is collected after the run, not during it."""
    scored = score_file(path)
    gc.freeze()
    return scored


def _line_of(one):
    return lambda path: as_line(one(path))


def score_group(paths: list[Path], freeze: bool = False, lines: bool = False) -> list[Scored] | list[Line]:
    one = _score_kept if freeze else score_file
    return [as_line(one(p)) for p in paths] if lines else [one(p) for p in paths]


def _warm() -> None:
    """Import silo's task modules (and numpy, which some import) before forking the workers, once, instead of
    in every worker on its first episode (~0.25 s of CPU each without bytecode files). Only the imports, not
    the registry's loading (tasks._load, plugins): a module that fails to import here is left to fail in the
    workers as it always did, where the episode that needs it gets its error row. And silo.links, which the
    report's facts of every file import (report_facts.facts_of, at its first call: else once per worker)."""
    names = [f"{tasks.__name__}.{m.name}" for m in pkgutil.iter_modules(tasks.__path__)
             if m.name[:1] == "t" and m.name[1:3].isdigit()]
    for name in ("silo.links", *names):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (the worker meets it again, and reports it)
            pass


def _pooled(files: list[Path], n: int, freeze: bool, lines: bool = False) -> Iterator[Scored | Line]:
    done: set[Path] = set()
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "fork":
        _warm()
        if freeze:
            gc.freeze()  # what the imports made: never walked by a collection, here or in a worker
    pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=None if ctx.get_start_method() == "fork" else _plugins)
    one = _score_kept if freeze else score_file
    try:
        futures: dict[Future, list[Path]] = {pool.submit(score_group, g, freeze, lines): g
                                            for g in _largest_first(groups(files))}
        for i, fut in enumerate(as_completed(futures), 1):
            rows = fut.result()
            if freeze:
                gc.freeze()  # the rows come to stay: no collection in this process walks them again
            done.update(futures[fut])
            if i == len(futures):  # every row is here: the workers exit while this process writes them (its exit
                pool.shutdown(wait=False)  # waits for theirs); the `finally` below then has nothing to wait for
            yield from rows
    except BrokenProcessPool:
        left = [f for f in files if f not in done]
        log.warning("a scoring worker died; scoring the %d episodes left in this process", len(left))
        yield from map(_line_of(one), left) if lines else map(one, left)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _plugins() -> None:
    """A spawned worker starts empty: load the plugins the CLI exported in SILO_PLUGINS."""
    from silo import plugins

    plugins.load_all()


def score_run(rd: RunDir, jobs: int | None = 1, progress: bool = False) -> list[EpisodeScore]:
    """Re-score every episode of a run directory (pure, offline) and write scores.jsonl, in episode-id order, and
    the facts `silo report` keeps of its episodes (report_facts.SIDECAR, from the same reads of the files);
    an episode that cannot be scored gets an error row (and a warning), the others are scored as usual.
    `jobs` worker processes: None = os.cpu_count() (`silo score`'s default: a fresh process), 1 (the default
    here, for `silo run`, resume, merge and the report's re-scoring) = in this process, which may hold the
    embedded model's server threads and must not fork; a run of few episodes is always scored in-process."""
    # only the events scoring reads are loaded: an N = 1,000 episode is mostly waits and action echoes
    with _sidecar(rd) as side:
        scores = _gather(rd, score_files(rd.readable_files(), jobs, progress), side)
        scores.sort(key=attrgetter("episode_id"))
        rd.write_scores(scores)
        side.commit()  # the report's facts of the same files: its first run reads none of them
    return scores


def write_run(rd: RunDir, jobs: int | None = None, progress: bool = False) -> int:
    """score_run for `silo score`, which needs only the files it writes (the same bytes): the rows come back as
    their JSON lines (score_lines), never rebuilt as records here. Returns the number of rows written."""
    from silo.rundir import RunDirError, atomic_write
    with _sidecar(rd) as side:
        rows = _gather(rd, score_lines(rd.readable_files(), jobs, progress), side)
        rows.sort(key=itemgetter(0))  # by episode id, as score_run sorts its records
        out = rd.path / "scores.jsonl"
        try:
            atomic_write(out, "".join(line + "\n" for _, line in rows))  # RunDir.write_scores, of the same lines
        except OSError as e:
            raise RunDirError(f"cannot write {out}: {e.strerror or e}") from e
        side.commit()
    return len(rows)


def quick_exit() -> None:
    """At this process's exit, freeze every object first (atexit, once): the interpreter's final collections then
    walk none of the imports and rows (~0.2 s of `silo score`'s end, serial, under load). Nothing is lost: the
    files are written and closed, and every object is still freed as the modules are; only cycles garbage at
    exit are not collected, as an exiting process need not."""
    if not _quick[0]:
        _quick[0] = True
        atexit.register(gc.freeze)


_quick = [False]


@contextmanager
def _sidecar(rd: RunDir) -> Iterator[report_facts.Sidecar]:
    """The run's report_facts.Sidecar, written while the episodes are scored: committed by the caller once the
    scores are written, let go if anything fails before."""
    side = report_facts.Sidecar(rd.path)
    try:
        yield side
    finally:
        side.abort()  # (after commit(): nothing left to let go)


def _gather(rd: RunDir, results: Iterator[Scored] | Iterator[Line], side: report_facts.Sidecar) -> list:
    """The rows of the readable files (the others skipped and named in rd); their sidecar lines go to `side`."""
    rows = []
    for r in results:
        if r.score is None:
            rd.skip(r.path, r.problem or "unreadable")
            continue
        if r.problem:
            log.warning("%s", r.problem)
        rows.append(r.score)
        if r.facts is not None:
            side.add(r.path.name, r.facts)
    return rows
