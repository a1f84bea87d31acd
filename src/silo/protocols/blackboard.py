"""A structured blackboard: typed, versioned entries with append and compare-and-set.

Every key holds a history of versions; its head is the latest committed one. Every version
keeps its author, round, type and the version it replaced, so shared state is verifiable.
Visibility is round-synchronous: reads see the heads committed by the end of the previous round.

Writes of a round are committed at its end in (agent id, action order):
- append_entry always commits (the history keeps every version; the last one becomes the head);
- cas_entry names the version it replaces (0: the key must not exist yet). It is checked twice:
  at once against the round-start head (stale: an error returned to the agent and logged), and at
  commit time against the head as updated by the writes committed before it this round. So within
  a round the first writer in (agent id, action order) wins and later CAS writes on that key
  become stale: each gets an `error` event at round end and a notice in the result of the agent's
  next blackboard action.

Events follow SFS so the scorer's replay works unchanged: `write` (content, global version id) at
the call, `read` (version, sender = author), `list` (the versions whose metadata was revealed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from silo.protocols.base import ActionError, Protocol, spec
from silo.records import ActionSpec, Event

ENTRY_TYPES = ("data", "partial", "result", "plan", "note")
_TYPE_HELP = ("entry type, one of: data (raw shard content), partial (an intermediate result), "
              "result (a proposed final answer), plan (who does what), note (anything else)")
_VALUE = {"description": "the entry's value: any JSON value (number, string, list or object)"}


@dataclass(frozen=True)
class Entry:
    """One version of a key."""

    version: int
    key: str
    type: str
    value: Any
    content: str
    author: int
    round: int
    replaces: int | None

    def meta(self) -> dict:
        return {"key": self.key, "version": self.version, "type": self.type, "author": self.author,
                "round": self.round, "replaces": self.replaces}


@dataclass(frozen=True)
class _Op:
    agent: int
    entry: Entry
    expected: int | None  # None: append; else the version a CAS replaces (0: key absent)


def _obj(name: str, description: str, props: dict, required: list[str]) -> ActionSpec:
    params = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return ActionSpec(name=name, description=description, parameters=params)


class Blackboard(Protocol):
    """Typed, versioned shared entries: append, compare-and-set, read (any version), list, history."""

    name = "blackboard"
    description = ("A shared blackboard of typed, versioned entries. append_entry adds a version to a key; "
                   "cas_entry (compare-and-set) replaces a key's version only if nobody changed it first, so "
                   "agents can build shared state safely. Reads see what was committed by the previous round.")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._history: dict[str, list[Entry]] = {}
        self._versions: dict[int, Entry] = {}
        self._pending: list[_Op] = []
        self._notices: dict[int, list[str]] = {}
        self._next_version = 1  # 0 is reserved: "the key does not exist" for cas_entry

    def specs(self):
        key = {"type": "string", "description": "entry key, e.g. data/3 or sum"}
        typ = {"type": "string", "enum": list(ENTRY_TYPES), "description": _TYPE_HELP}
        return [
            spec("list_entries", "List the keys starting with a prefix ('' for all), with each key's latest "
                 "version, type, author and round (no values).", prefix=("string", "key prefix")),
            _obj("read_entry", "Read a key's latest committed version (or an older one by version id): value, "
                 "type, author, round and the version it replaced.",
                 {"key": key, "version": {"type": "integer", "description": "optional: an older version id "
                                          "of this key (see entry_history); omit for the latest"}}, ["key"]),
            spec("entry_history", "List every committed version of a key (metadata, oldest first).",
                 key=("string", "entry key")),
            _obj("append_entry", "Add a new version to a key (created if absent); it becomes the latest "
                 "version at the end of this round. Never fails because of other writers.",
                 {"key": key, "type": typ, "value": _VALUE}, ["key", "type", "value"]),
            _obj("cas_entry", "Compare-and-set: write a new version of a key only if its latest version is "
                 "still expected_version (0: the key must not exist yet). Fails now if stale; if several agents "
                 "write the key in the same round, the lowest agent id wins and later CAS writes fail at round "
                 "end (you are told on your next blackboard action).",
                 {"key": key, "expected_version": {"type": "integer", "description": "the version you read "
                                                   "and want to replace; 0 to create the key"},
                  "type": typ, "value": _VALUE}, ["key", "expected_version", "type", "value"]),
        ]

    # ---- reads ---------------------------------------------------------------------
    def _head(self, key: str) -> Entry | None:
        h = self._history.get(key)
        return h[-1] if h else None

    def _check_key(self, key: str) -> str:
        if not key.strip():
            raise ActionError("key must be a non-empty string")
        if len(key) > self.limits.max_path_chars:
            raise ActionError(f"key too long: {len(key)} characters, limit {self.limits.max_path_chars}")
        return key

    def _with_notices(self, agent: int, result: dict) -> dict:
        notes = self._notices.pop(agent, None)
        return {**result, "notices": notes} if notes else result

    def do_list_entries(self, rnd: int, agent: int, prefix: str):
        heads = [self._head(k) for k in sorted(self._history) if k.startswith(prefix)]
        metas = [{**e.meta(), "count": len(self._history[e.key])} for e in heads]
        ev = Event(round=rnd, agent=agent, kind="list", action="list_entries", args={"prefix": prefix},
                   result=[e.key for e in heads], versions=[e.version for e in heads],
                   chars=sum(len(e.key) for e in heads))
        return self._with_notices(agent, {"entries": metas}), [ev]

    def do_read_entry(self, rnd: int, agent: int, key: str, version: int | None = None):
        self._check_key(key)
        e = self._head(key) if version is None else self._versions.get(version)
        if e is None or e.key != key:
            what = f"no version {version} of key" if version is not None else "no such key"
            raise ActionError(f"{what}: {key!r}")
        ev = Event(round=rnd, agent=agent, kind="read", action="read_entry", path=key, version=e.version,
                   sender=e.author, chars=len(e.content))
        return self._with_notices(agent, {**e.meta(), "value": e.value}), [ev]

    def do_entry_history(self, rnd: int, agent: int, key: str):
        self._check_key(key)
        hist = self._history.get(key)
        if not hist:
            raise ActionError(f"no such key: {key!r}")
        ev = Event(round=rnd, agent=agent, kind="list", action="entry_history", args={"key": key},
                   result=[key], versions=[e.version for e in hist], chars=len(key))
        return self._with_notices(agent, {"key": key, "versions": [e.meta() for e in hist]}), [ev]

    # ---- writes --------------------------------------------------------------------
    def _write(self, rnd: int, agent: int, key: str, type: str, value: Any, expected: int | None):
        self._check_key(key)
        if type not in ENTRY_TYPES:
            raise ActionError(f"unknown entry type {type!r}; valid: {', '.join(ENTRY_TYPES)}")
        content = json.dumps(value, ensure_ascii=False)
        self.check_content(content, self.limits.max_file_chars, "entry value")
        if key not in self._history and len(self._history) + len(self._pending) >= self.limits.max_files:
            raise ActionError(f"too many keys: limit {self.limits.max_files}")
        head = self._head(key)
        entry = Entry(self._next_version, key, type, value, content, agent, rnd, head.version if head else None)
        self._next_version += 1
        self._pending.append(_Op(agent, entry, expected))
        op = "append" if expected is None else "cas"
        args = {"op": op, "type": type, **({} if expected is None else {"expected_version": expected})}
        ev = Event(round=rnd, agent=agent, kind="write", action=f"{op}_entry", path=key, version=entry.version,
                   args=args, content=content, chars=len(content))
        result = {"status": "pending", "version": entry.version, "visible_from_round": rnd + 1}
        return self._with_notices(agent, result), [ev]

    def do_append_entry(self, rnd: int, agent: int, key: str, type: str, value: Any = None):
        return self._write(rnd, agent, key, type, value, None)

    def do_cas_entry(self, rnd: int, agent: int, key: str, expected_version: int, type: str, value: Any = None):
        head = self._head(key)
        current = head.version if head else 0
        if expected_version != current:
            state = f"is at version {current} (round {head.round})" if head else "does not exist (use 0)"
            raise ActionError(f"stale compare-and-set on {key!r}: you expected version {expected_version}, "
                              f"but the key {state}; read it again and retry")
        return self._write(rnd, agent, key, type, value, expected_version)

    def end_round(self, rnd: int) -> list[Event]:
        events = super().end_round(rnd)
        for op in sorted(self._pending, key=lambda o: (o.agent, o.entry.version)):
            e, head = op.entry, self._head(op.entry.key)
            current = head.version if head else 0
            if op.expected is not None and op.expected != current:
                msg = (f"stale compare-and-set on {e.key!r} (your version {e.version}, round {rnd}): another write "
                       f"to this key committed first this round (lower agent id, or your own earlier write); "
                       f"it is now at version {current}. Read it again and retry.")
                events.append(Event(round=rnd, agent=op.agent, kind="error", action="cas_entry", path=e.key,
                                    version=e.version, result=msg))
                self._notices.setdefault(op.agent, []).append(msg)
                continue
            if head is not None and e.replaces != current:
                e = Entry(e.version, e.key, e.type, e.value, e.content, e.author, e.round, current)
            self._history.setdefault(e.key, []).append(e)
            self._versions[e.version] = e
        self._pending.clear()
        return events
