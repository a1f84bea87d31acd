"""Run directories on disk: config, one atomically written file per episode, derived scores.

    config.json           the resolved RunConfig, shard, package version and git hash
    episodes/<id>.jsonl.gz  one self-contained Episode per file, compressed JSON Lines (written via
                          rename; silo.episode_io, docs/storage.md); <id>.json files of older runs still read
    scores.jsonl          EpisodeScore records (derived; `silo score` rebuilds it)
    .lock                 pid of the process writing the run (one writer at a time)
    damaged/              unreadable episode files moved aside on resume (kept, then re-run)

Everything written passes the secret filter (silo.redact). Temporary files carry their
writer's pid, so cleaning up after a killed process never touches a live writer's files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path

from silo import __version__, episode_io, rundir_lock
from silo.records import Episode, EpisodeScore, RunConfig
from silo.redact import redact
from silo.rundir_lock import RunDirError, pid_alive

__all__ = ["RUNTIME_KEYS", "RunDir", "RunDirError", "atomic_write", "config_diff", "git_hash", "merge_runs",
           "pid_alive"]

log = logging.getLogger(__name__)
_TMP_PID = re.compile(r"\.(\d+)(?:\.\d+)?\.tmp$")


def atomic_write(path: Path, text: str) -> None:
    """Write redacted text via a temporary file, fsync and rename: a crash never leaves a partial file."""
    episode_io.write_bytes(path, redact(text).encode("utf-8", errors="replace"))


def git_hash() -> str | None:
    """The source tree's git commit, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# RunConfig.extra keys that cannot change a result: they may differ on resume (and stay out of episode ids)
RUNTIME_KEYS = frozenset({"api_base", "api_key_env", "cache", "cache_dir", "concurrency", "timeout_s", "retries",
                          "backoff_s", "backoff_max_s", "retry_window_s", "breaker_failures", "breaker_pause_s",
                          "outage_max_s", "no_action_retries", "episode_timeout_s", "input_cost_per_token",
                          "output_cost_per_token", "per_model", "limit"})  # per_model, limit: silo run (E)


def config_diff(old: RunConfig, new: RunConfig) -> tuple[list[str], dict[str, list]]:
    """(fields whose change alters results, {harmless field: [old, new]}) between two run configs."""
    result, harmless = [], {}
    for k in type(new).model_fields:
        a, b = getattr(old, k), getattr(new, k)
        if k == "extra":
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    if key in RUNTIME_KEYS:
                        harmless[f"extra.{key}"] = [a.get(key), b.get(key)]
                    else:
                        result.append(f"extra.{key}")
        elif a != b:
            result.append(k)
    return result, harmless


class RunDir:
    """A run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.skipped: list[str] = []  # unreadable episode files passed over by episodes()
        self.damaged: list[Path] = []  # unreadable episode files this process moved to damaged/
        self.locked = False

    # ---- one writer at a time (silo.rundir_lock) --------------------------------------
    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def lock(self) -> None:
        """Become the run's only writer; a live holder is a one-line error, a dead one's lock is taken over."""
        rundir_lock.acquire(self.path, self.lock_file)
        self.locked = True

    def unlock(self) -> None:
        """Release the lock if this process holds it."""
        rundir_lock.release(self.lock_file)

    @property
    def episodes_dir(self) -> Path:
        return self.path / "episodes"

    def saved_config(self) -> RunConfig | None:
        """The RunConfig stored by an earlier run, if any."""
        f = self.path / "config.json"
        if not f.exists():
            return None
        try:
            return RunConfig.model_validate(json.loads(f.read_text())["run"])
        except (OSError, ValueError, KeyError, TypeError) as e:  # TypeError: valid JSON that is not an object
            why = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise RunDirError(f"unreadable run config {f} ({why}); restore it, or start the sweep afresh with "
                              "`silo run ... --force`") from None

    def init(self, rc: RunConfig, shard: str | None = None, force: bool = False) -> None:
        """Create the directory or check it holds the same run (resume); --force overwrites the config.

        Changes that cannot alter results (RUNTIME_KEYS: api base, cache, retries, timeouts, prices...)
        are allowed on resume and recorded under "changes" in config.json; any other difference is
        refused with the list of differing fields."""
        self.lock()
        try:
            old = self.saved_config() if self.path.exists() else None
        except RunDirError:
            if not force:
                raise
            old = None  # --force: an unreadable config is replaced (every episode is re-run)
            if (self.path / "config.json").is_dir():
                try:
                    (self.path / "config.json").rmdir()  # an empty directory where the config belongs
                except OSError as e:
                    raise RunDirError(f"{self.path / 'config.json'} is a directory ({e.strerror}); remove it") from None
        changes: list = []
        if old is not None and old != rc:
            result, harmless = config_diff(old, rc)
            if result and not force:
                raise RunDirError(f"{self.path} holds a different run (differs in: {', '.join(result)}); "
                                  "use another --out, or --force to overwrite")
            changes = self._changes() + [{"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                          "fields": harmless}]
        elif old is not None:
            changes = self._changes()
        try:
            self.episodes_dir.mkdir(parents=True, exist_ok=True)
            self.clean_stale()
            meta = {"run": rc.model_dump(mode="json"), "shard": shard, "silo_version": __version__,
                    "git": git_hash(), **({"changes": changes} if changes else {})}
            atomic_write(self.path / "config.json", json.dumps(meta, indent=2))
        except OSError as e:
            raise RunDirError(f"cannot write run directory {self.path}: {e.strerror or e}") from e

    def _changes(self) -> list:
        try:
            return list(json.loads((self.path / "config.json").read_text()).get("changes") or [])
        except (OSError, ValueError, AttributeError):
            return []

    def reopen(self) -> None:
        """Before resuming: become the only writer and clean up after dead writers (damaged episode files
        are moved aside as statuses() reads them)."""
        self.lock()
        self.clean_stale()

    def clean_stale(self) -> None:
        """Remove temporary files a killed process left behind (never a live writer's, never episodes)."""
        for d in (self.path, self.episodes_dir):
            for stale in d.glob(".*.tmp"):
                m = _TMP_PID.search(stale.name)
                if m and (int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1)))):
                    continue
                stale.unlink(missing_ok=True)

    def heal(self) -> list[Path]:
        """Move unreadable or partial episode files aside to damaged/ (kept); they count as not done.
        statuses() does this as it reads, once this process holds the lock."""
        before = set(self.damaged)
        self.statuses()
        return [p for p in self.damaged if p not in before]

    def _aside(self, f: Path) -> None:
        suffix = episode_io.SUFFIX if f.name.endswith(episode_io.SUFFIX) else episode_io.OLD_SUFFIX
        dest = self.path / "damaged" / f"{episode_io.episode_id(f)}.{int(time.time())}{suffix}"
        try:
            dest.parent.mkdir(exist_ok=True)
            os.replace(f, dest)
        except OSError as e:
            log.warning("unreadable episode file %s (cannot move it aside: %s); it will be re-run", f, e)
            return
        log.warning("unreadable episode file %s moved to %s; it will be re-run", f, dest)
        self.damaged.append(dest)

    def episode_files(self) -> list[Path]:
        """One file per episode id, either format (episode_io.files)."""
        return episode_io.files(self.episodes_dir)

    def statuses(self) -> dict[str, str]:
        """Episode id -> status of every readable episode file (cheap: a new file's first line and its
        last 8 bytes; an old file is parsed but not validated)."""
        out = {}
        for f in self.episode_files():
            try:
                out[episode_io.episode_id(f)] = episode_io.status(f)
            except (OSError, ValueError, AttributeError):
                if self.locked:  # unreadable: kept aside (the writer only), and re-run as not done
                    self._aside(f)
        return out

    def write_episode(self, ep: Episode) -> str:
        """Write an episode; content that cannot be serialised is bounded, else the episode is marked
        errored. Returns the status written."""
        try:
            # null fields are left out (a quarter of the bytes of a big event log); loading restores them
            return episode_io.write(self.episodes_dir, ep)
        except OSError as e:
            raise RunDirError(f"cannot write episode {ep.id} to {self.episodes_dir}: {e.strerror or e}; "
                              "episodes already written are intact") from e

    def episodes(self, kinds: frozenset[str] | None = None):
        """Yield every readable episode record, one at a time (bounded memory); an unreadable file is
        skipped with a warning and listed in self.skipped (`silo resume` moves it aside and re-runs it).
        With `kinds`, each episode holds only the events of those kinds (episode_io.read)."""
        for f in self.readable_files():
            try:
                ep = episode_io.read(f, kinds)
            except (OSError, ValueError) as e:
                self.skip(f, str(e).splitlines()[0][:200])
                continue
            yield ep
            del ep  # not held while the next file is read: one episode in memory at a time

    def readable_files(self) -> list[Path]:
        """episode_files() of a directory that must be a run directory (a one-line error if not), before a
        pass that reads them all: self.skipped starts empty."""
        if not self.path.is_dir():
            raise RunDirError(f"not a run directory: {self.path}")
        if not self.episodes_dir.is_dir():
            raise RunDirError(f"not a run directory (no episodes/): {self.path}")
        self.skipped = []
        return self.episode_files()

    def skip(self, f: Path, reason: str) -> None:
        """Pass over an unreadable episode file: listed in self.skipped, with a warning."""
        self.skipped.append(f.name)
        log.warning("unreadable episode file %s skipped (%s); `silo resume` re-runs it", f, reason)

    def write_scores(self, scores: list[EpisodeScore]) -> Path:
        out = self.path / "scores.jsonl"
        try:
            atomic_write(out, "".join(s.model_dump_json() + "\n" for s in scores))
        except OSError as e:
            raise RunDirError(f"cannot write {out}: {e.strerror or e}") from e
        return out

    def scores(self) -> list[EpisodeScore]:
        f = self.path / "scores.jsonl"
        if not f.exists():
            raise RunDirError(f"no scores in {self.path}; run `silo score {self.path}` first")
        out, where = [], 0
        try:
            for line in f.read_text(errors="replace").splitlines():
                where += 1
                if line.strip():
                    out.append(EpisodeScore.model_validate_json(line))
        except ValueError as e:
            raise RunDirError(f"unreadable scores file {f} (line {where}: {str(e).splitlines()[0][:120]}); "
                              f"rebuild it with `silo score {self.path}`") from None
        except OSError as e:
            raise RunDirError(f"cannot read scores file {f} ({e.strerror or e}); remove it and rebuild it with "
                              f"`silo score {self.path}`") from None
        return out


def merge_runs(out: RunDir, sources: list[RunDir]) -> int:
    """Join shard slices of one sweep into `out`; all sources must hold the same run config."""
    configs = [s.saved_config() for s in sources]
    if any(c is None for c in configs):
        bad = next(s for s, c in zip(sources, configs, strict=True) if c is None)
        raise RunDirError(f"not a run directory: {bad.path}")
    if any(c != configs[0] for c in configs[1:]):
        raise RunDirError("cannot merge runs of different configs")
    out.init(configs[0])
    copied = 0
    have = {episode_io.episode_id(t): t for t in out.episode_files()}
    for src in sources:
        for f in src.episode_files():
            eid = episode_io.episode_id(f)
            if eid in have and _status_or_none(have[eid]) not in (None, "error"):
                continue  # keep a completed copy over an errored one
            _copy_episode(f, out.episodes_dir)
            have[eid] = out.episodes_dir / f.name
            copied += 1
    return copied


def _status_or_none(f: Path) -> str | None:
    try:
        return episode_io.status(f)
    except (OSError, ValueError):
        return None


def _copy_episode(f: Path, directory: Path) -> None:
    """Copy an episode file (either format) as it is; the other format's file of that id is removed."""
    eid = episode_io.episode_id(f)
    if f.name.endswith(episode_io.SUFFIX):
        episode_io.write_bytes(directory / f.name, f.read_bytes())  # written redacted, line by line
        (directory / f"{eid}{episode_io.OLD_SUFFIX}").unlink(missing_ok=True)
    else:
        atomic_write(directory / f.name, f.read_text())
        episode_io.path_for(directory, eid).unlink(missing_ok=True)
