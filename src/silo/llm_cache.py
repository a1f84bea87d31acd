"""Disk cache of model calls, so a cached episode replays exactly (litellm's own cache is broken in 1.103.7).

Key: sha256 of the canonical JSON of (model, api base, messages, tools, response format, sampling
settings, replicate index). The replicate index is in the key so that replicates of one cell are
independent samples, not one sample read back N times. API keys are never part of a request
record, so they can reach neither the key nor the stored value; a key a server echoes back is
removed by the secret filter (silo.redact) before anything is written.

Layout: <root>/<key[:2]>/<key>.json, each a JSON object {"key_fields": ..., "response": ...},
written via a temporary file and rename (safe under concurrent writers: last one wins, and all
write the same logical content). Root: $SILO_CACHE_DIR, else ~/.cache/silo/llm.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from silo.redact import redact

CACHE_VERSION = 1


def default_root() -> Path:
    """$SILO_CACHE_DIR, else ~/.cache/silo/llm."""
    env = os.environ.get("SILO_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "silo" / "llm"


def cache_key(fields: dict[str, Any]) -> str:
    """Stable hash of a request's identifying fields (dict order does not matter)."""
    blob = json.dumps({"v": CACHE_VERSION, **fields}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CallCache:
    """A directory of cached responses, one file per request key."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response of a key, or None (also for unreadable or corrupt entries)."""
        try:
            entry = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        resp = entry.get("response") if isinstance(entry, dict) else None
        return resp if isinstance(resp, dict) else None

    def put(self, key: str, fields: dict[str, Any], response: dict[str, Any]) -> None:
        """Store a response atomically; cache write failures are not fatal to the episode."""
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(response)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(redact(json.dumps({"key_fields": fields, "response": response}, default=str)),
                           errors="replace")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.is_dir() else 0
