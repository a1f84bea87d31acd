"""Disk cache of model calls, so a cached episode replays exactly (litellm's own cache is broken in 1.103.7).

Key: sha256 of the canonical JSON of (model, api base, messages, tools, response format, sampling
settings, replicate index). The replicate index is in the key so that replicates of one cell are
independent samples, not one sample read back N times. API keys are never part of a request
record, so they can reach neither the key nor the stored value; a key a server echoes back is
removed by the secret filter (silo.redact) before anything is written.

Layout: <root>/<key[:2]>/<key>.json, each a JSON object {"key_fields": ..., "response": ...}
(key_fields: the canonical JSON the key hashes, made once per call), written via a temporary file
and rename (safe under concurrent writers: last one wins, and all write the same logical content;
no fsync: a torn entry after a crash reads as a miss). Root: $SILO_CACHE_DIR, else ~/.cache/silo/llm.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from silo.redact import redact

CACHE_VERSION = 1
log = logging.getLogger("silo.llm")
_WARNED: set[str] = set()


def default_root() -> Path:
    """$SILO_CACHE_DIR, else ~/.cache/silo/llm."""
    env = os.environ.get("SILO_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "silo" / "llm"


def canonical(fields: dict[str, Any]) -> str:
    """The canonical JSON of a request's identifying fields (what the key hashes; stored with the entry)."""
    return json.dumps({"v": CACHE_VERSION, **fields}, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(fields: dict[str, Any], blob: str | None = None) -> str:
    """Stable hash of a request's identifying fields (dict order does not matter); `blob`: their
    canonical() JSON if already made."""
    return hashlib.sha256((blob if blob is not None else canonical(fields)).encode()).hexdigest()


class CallCache:
    """A directory of cached responses, one file per request key."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self._dir = str(self.root)

    def _path(self, key: str) -> str:
        return os.path.join(self._dir, key[:2], f"{key}.json")

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response of a key, or None (also for unreadable or corrupt entries)."""
        try:
            with open(self._path(key), encoding="utf-8") as f:
                entry = json.loads(f.read())
        except (OSError, ValueError):
            return None
        resp = entry.get("response") if isinstance(entry, dict) else None
        return resp if isinstance(resp, dict) else None

    def put(self, key: str, fields: dict[str, Any], response: dict[str, Any], blob: str | None = None) -> None:
        """Store a response atomically (a temporary file renamed over the entry); `blob`: the
        canonical() JSON of `fields` if already made. Cache write failures are not fatal to the episode."""
        path = self._path(key)
        tmp = os.path.join(os.path.dirname(path), f".{key}.json.{os.getpid()}.{id(response)}.tmp")
        keyed = blob if blob is not None else canonical(fields)
        text = redact(f'{{"key_fields":{keyed},"response":{json.dumps(response, default=str)}}}')
        data = text.encode("utf-8", errors="replace")
        try:
            try:
                _write(tmp, data)
            except FileNotFoundError:  # the first entry of its <key[:2]> directory
                os.makedirs(os.path.dirname(path), exist_ok=True)
                _write(tmp, data)
            os.replace(tmp, path)
        except OSError as e:  # a full disk, a file where a directory belongs: the reply is still returned
            try:
                Path(tmp).unlink(missing_ok=True)
            except OSError:
                pass
            if self._dir not in _WARNED:  # once per cache directory and process
                _WARNED.add(self._dir)
                log.warning("model-call cache %s cannot be written (%s): replies are not cached, so a resume "
                            "pays for them again", self.root, e.strerror or e)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.is_dir() else 0


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
