"""Run directories on disk: config, one atomically written file per episode, derived scores.

    config.json           the resolved RunConfig, shard, package version and git hash
    episodes/<id>.json    one self-contained Episode record per file (written via rename)
    scores.jsonl          EpisodeScore records (derived; `silo score` rebuilds it)
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from silo import __version__
from silo.records import Episode, EpisodeScore, RunConfig


class RunDirError(Exception):
    """A run directory that cannot be read or written; the message says what and where."""


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file, fsync and rename: a crash never leaves a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def git_hash() -> str | None:
    """The source tree's git commit, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class RunDir:
    """A run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

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
        except (OSError, ValueError, KeyError) as e:
            raise RunDirError(f"unreadable run config {f}: {str(e).splitlines()[0]}") from e

    def init(self, rc: RunConfig, shard: str | None = None, force: bool = False) -> None:
        """Create the directory or check it holds the same run (resume); --force overwrites the config."""
        old = self.saved_config() if self.path.exists() else None
        if old is not None and old != rc and not force:
            diff = sorted(k for k in type(rc).model_fields if getattr(old, k) != getattr(rc, k))
            raise RunDirError(f"{self.path} holds a different run (differs in: {', '.join(diff)}); "
                              "use another --out, or --force to overwrite")
        try:
            self.episodes_dir.mkdir(parents=True, exist_ok=True)
            self.clean_stale()
            meta = {"run": rc.model_dump(mode="json"), "shard": shard, "silo_version": __version__,
                    "git": git_hash()}
            atomic_write(self.path / "config.json", json.dumps(meta, indent=2))
        except OSError as e:
            raise RunDirError(f"cannot write run directory {self.path}: {e.strerror or e}") from e

    def clean_stale(self) -> None:
        """Remove temporary files a killed process left behind (never complete episodes)."""
        for stale in self.episodes_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def episode_files(self) -> list[Path]:
        return sorted(self.episodes_dir.glob("*.json")) if self.episodes_dir.is_dir() else []

    def statuses(self) -> dict[str, str]:
        """Episode id -> status of every readable episode file (cheap: no full validation)."""
        out = {}
        for f in self.episode_files():
            try:
                out[f.stem] = json.loads(f.read_bytes()).get("status", "error")
            except (OSError, ValueError):
                continue  # unreadable: treated as not done, so it is re-run
        return out

    def write_episode(self, ep: Episode) -> None:
        try:
            # null fields are left out (a quarter of the bytes of a big event log); loading restores them
            atomic_write(self.episodes_dir / f"{ep.id}.json", ep.model_dump_json(exclude_none=True))
        except OSError as e:
            raise RunDirError(f"cannot write episode {ep.id} to {self.episodes_dir}: {e.strerror or e}; "
                              "episodes already written are intact") from e

    def episodes(self):
        """Yield every episode record, one at a time (bounded memory)."""
        if not self.path.is_dir():
            raise RunDirError(f"not a run directory: {self.path}")
        if not self.episodes_dir.is_dir():
            raise RunDirError(f"not a run directory (no episodes/): {self.path}")
        for f in self.episode_files():
            try:
                yield Episode.model_validate_json(f.read_bytes())
            except (OSError, ValueError) as e:
                raise RunDirError(f"unreadable episode file {f}: {str(e).splitlines()[0]}") from e

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
        return [EpisodeScore.model_validate_json(line) for line in f.read_text().splitlines() if line.strip()]


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
    for src in sources:
        for f in src.episode_files():
            target = out.episodes_dir / f.name
            if target.exists() and json.loads(target.read_bytes()).get("status") != "error":
                continue  # keep a completed copy over an errored one
            atomic_write(target, f.read_text())
            copied += 1
    return copied
