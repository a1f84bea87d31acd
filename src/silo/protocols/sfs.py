"""Shared file system: a key-value blackboard; reads see the state at the end of the previous round."""

from __future__ import annotations

from dataclasses import dataclass

from silo.protocols.base import ActionError, Protocol, bookkeeping_event, spec
from silo.records import Event


@dataclass(frozen=True)
class FileVersion:
    version: int
    author: int
    round: int
    content: str


class SharedFS(Protocol):
    """Last writer wins; writes and deletes of round r are committed in (agent, order) at its end."""

    name = "sfs"
    description = "A shared file system every agent can list, read, write and delete."

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._files: dict[str, FileVersion] = {}
        self._pending: list[tuple[int, int, str, FileVersion | None]] = []  # (agent, seq, path, version|None=delete)
        self._next_version = 0

    def specs(self):
        return [
            spec("list_files", "List paths starting with a prefix ('' for all).", prefix=("string", "path prefix")),
            spec("read_file", "Read a file's content.", path=("string", "relative path")),
            spec("write_file", "Create or overwrite a file (visible to all next round).",
                 path=("string", "relative path, e.g. notes/a.txt"), content=("string", "file content")),
            spec("delete_file", "Delete a file (takes effect next round).", path=("string", "relative path")),
        ]

    def _check_path(self, path: str) -> str:
        if not path or path.startswith(("/", "\\")) or ":" in path[:3]:
            raise ActionError(f"path must be relative and non-empty: {path!r}")
        if ".." in path.replace("\\", "/").split("/"):
            raise ActionError(f"path may not contain '..': {path!r}")
        if len(path) > self.limits.max_path_chars:
            raise ActionError(f"path too long: {len(path)} characters, limit {self.limits.max_path_chars}")
        return path

    def do_list_files(self, rnd: int, agent: int, prefix: str):
        hits = sorted(p for p in self._files if p.startswith(prefix))
        ev = Event(round=rnd, agent=agent, kind="list", action="list_files", args={"prefix": prefix},
                   result=hits, versions=[self._files[p].version for p in hits],
                   chars=sum(len(p) for p in hits))
        return hits, [ev]

    def do_read_file(self, rnd: int, agent: int, path: str):
        self._check_path(path)
        f = self._files.get(path)
        if f is None:
            raise ActionError(f"no such file: {path!r}")
        ev = bookkeeping_event(round=rnd, agent=agent, kind="read", action="read_file", path=path, version=f.version,
                               sender=f.author, chars=len(f.content))  # one per file read: 1,461 -> 605 bytes
        return f.content, [ev]

    def do_write_file(self, rnd: int, agent: int, path: str, content: str):
        self._check_path(path)
        self.check_content(content, self.limits.max_file_chars, "file content")
        if path not in self._files and len(self._files) + len(self._pending) >= self.limits.max_files:
            raise ActionError(f"too many files: limit {self.limits.max_files}")
        fv = FileVersion(self._next_version, agent, rnd, content)
        self._next_version += 1
        self._pending.append((agent, fv.version, path, fv))
        ev = Event(round=rnd, agent=agent, kind="write", action="write_file", path=path, version=fv.version,
                   content=content, chars=len(content))
        return {"ok": True, "version": fv.version}, [ev]

    def do_delete_file(self, rnd: int, agent: int, path: str):
        self._check_path(path)
        if path not in self._files:
            raise ActionError(f"no such file: {path!r}")
        self._pending.append((agent, self._next_version, path, None))
        self._next_version += 1
        return {"ok": True}, [Event(round=rnd, agent=agent, kind="delete", action="delete_file", path=path)]

    def end_round(self, rnd: int) -> list[Event]:
        for _agent, _seq, path, fv in sorted(self._pending, key=lambda p: (p[0], p[1])):
            if fv is None:
                self._files.pop(path, None)
            else:
                self._files[path] = fv
        self._pending.clear()
        return []
