"""The record line of an episode file as JSON values, with equal answers parsed once and shared.

A global task's truth is N copies of one answer, and a team that agrees submits N copies of it: in the
oracle reference grid that is 90% of the record bytes (a 100 x 100 matrix, 100 times over). `loads()`
walks the record's top levels with the json module's own scanner; an entry of `instance.truth`, or a
submission's answer, whose text equals that of the previous truth entry, of the agent's truth or of the
previous answer is not parsed again but is the same object. Anything the walker does not expect is
parsed by json.loads, so the values are always json.loads's own.

`read()` also skips the instance when its text is that of the previous record's (`Known`: scoring reads an
instance's episodes one after the other, every one holding the same instance): it is then the caller's
object for that text, unparsed, and its truth entries share with the answers as if parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

_scan = json.JSONDecoder().scan_once  # the C scanner: (value, end index) of the JSON value at an index
_WS = re.compile(r"[ \t\n\r]*")
_BLANK = " \t\n\r"
# a submission as silo writes it, up to its answer: compact, these keys in this order, each an integer exactly
# as JSON spells it (its text is then int()'s, json's own value); any other spelling takes the general walk
_INT = r"(-?(?:0|[1-9][0-9]*))"
_SUBMISSION = re.compile(r'\{"agent":' + _INT + r',"round":' + _INT + r',"answer":').match


class _Fallback(Exception):
    pass


class Known(NamedTuple):
    """An instance read before: its JSON text, what stands for it, and its truth entries as (text, value)."""

    text: str
    value: Any
    truth: list


def loads(line: bytes) -> Any:
    """json.loads(line), equal truth entries and answers sharing one object (see the module docstring)."""
    return read(line)[0]


def read(line: bytes | memoryview, known: Known | None = None) -> tuple[Any, Known | None]:
    """loads(line), except that an `instance` whose text is known.text is known.value, not parsed again; and the
    Known of this line's instance (its value: the parsed one, or known's), None if there is none or the line took
    json.loads's path (then nothing is reused either). `line`: bytes, or a memoryview of them (not copied)."""
    try:
        s = str(line, "utf-8")
        walk = _Walk(s, known)
        d, end = walk.object(_ws(s, 0), walk.record_fields)
        if _ws(s, end) != len(s):
            raise _Fallback
        return d, walk.seen
    except (_Fallback, ValueError, IndexError, StopIteration, RecursionError):
        return json.loads(bytes(line)), None  # raises what it always raised on a bad line


def _ws(s: str, i: int) -> int:
    """The index of the first non-blank character from i (compact JSON has none: one comparison)."""
    return _WS.match(s, i).end() if i < len(s) and s[i] in _BLANK else i


class _Walk:
    def __init__(self, s: str, known: Known | None = None):
        self.s = s
        self.known = known
        self.seen: Known | None = None  # the Known of the (last) instance read
        self.truth: list[tuple[str, Any]] = []  # (text, value) of each truth entry
        self.last: tuple[str, Any] | None = None  # the previous answer
        self.agent = None  # the agent of the submission being read
        self.sub_fields = {"agent": self._agent, "answer": self._answer}
        self.record_fields = {"instance": self.instance, "submissions": self.submissions}

    def instance(self, i: int) -> tuple[Any, int]:
        """The instance at i: known.value if its text is known.text (a whole JSON object: the value at i is then
        exactly that text), else parsed."""
        s, k = self.s, self.known
        if k is not None and s.startswith(k.text, i):
            end = i + len(k.text)
            after = _ws(s, end)
            if after < len(s) and s[after] in ",}":
                self.truth = k.truth
                self.seen = k
                return k.value, end
        self.truth = []
        v, end = self.object(i, {"truth": self.truth_list})
        self.seen = Known(s[i:end], v, self.truth)
        return v, end

    def value(self, i: int, same: tuple) -> tuple[str, Any, int]:
        """(text, value, end) of the value at i: one of `same` (text, value) if its text is there, else parsed."""
        s = self.s
        for cand in same:
            if cand is not None and s.startswith(cand[0], i):
                end = i + len(cand[0])
                after = _ws(s, end)
                if after < len(s) and s[after] in ",]}":  # the whole value, not a prefix of a longer one
                    return cand[0], cand[1], end
        v, end = _scan(s, i)
        return s[i:end], v, end

    def object(self, i: int, fields: dict) -> tuple[dict, int]:
        """The object at i; the value of a key in `fields` is read by fields[key](index)."""
        s = self.s
        if s[i] != "{":
            raise _Fallback
        out: dict = {}
        i = _ws(s, i + 1)
        if s[i] == "}":
            return out, i + 1
        while True:
            if s[i] != '"':
                raise _Fallback
            key, i = _scan(s, i)
            i = _ws(s, i)
            if s[i] != ":":
                raise _Fallback
            i = _ws(s, i + 1)
            f = fields.get(key)
            out[key], i = f(i) if f else _scan(s, i)
            i = _ws(s, i)
            if s[i] == "}":
                return out, i + 1
            if s[i] != ",":
                raise _Fallback
            i = _ws(s, i + 1)

    def array(self, i: int, item) -> tuple[list, int]:
        s = self.s
        if s[i] != "[":
            raise _Fallback
        out: list = []
        i = _ws(s, i + 1)
        if s[i] == "]":
            return out, i + 1
        while True:
            v, i = item(i)
            out.append(v)
            i = _ws(s, i)
            if s[i] == "]":
                return out, i + 1
            if s[i] != ",":
                raise _Fallback
            i = _ws(s, i + 1)

    def truth_list(self, i: int) -> tuple[list, int]:
        def entry(j: int) -> tuple[Any, int]:
            text, v, end = self.value(j, (self.truth[-1] if self.truth else None,))
            self.truth.append((text, v))
            return v, end
        return self.array(i, entry)

    def submissions(self, i: int) -> tuple[list, int]:
        """The submissions: array(i, self.submission), each submission as written read in this one loop (no Python
        call per submission: the same values, the same objects shared, the same errors)."""
        s, n, truth = self.s, len(self.s), self.truth
        if s[i] != "[":
            raise _Fallback
        out: list = []
        i = _ws(s, i + 1)
        if s[i] == "]":
            return out, i + 1
        while True:
            m = _SUBMISSION(s, i)
            if m is None:
                v, i = self.submission(i)
            else:  # submission(i), inlined: its answer as _answer reads it (value(j, (last, own)))
                last, a, j = self.last, int(m[1]), m.end()
                own = truth[a] if 0 <= a < len(truth) else None
                for cand in (last, own):
                    if cand is not None and s.startswith(cand[0], j):
                        end = j + len(cand[0])
                        after = _ws(s, end)
                        if after < n and s[after] in ",]}":
                            self.last = cand
                            break
                else:
                    v, end = _scan(s, j)
                    self.last = (s[j:end], v)
                if end < n and s[end] == "}":
                    v, i = {"agent": a, "round": int(m[2]), "answer": self.last[1]}, end + 1
                else:
                    self.last = last  # not as written after all: read again by the general walk
                    v, i = self.submission(i, False)
            out.append(v)
            if i < n and s[i] in _BLANK:
                i = _ws(s, i)
            if s[i] == "]":
                return out, i + 1
            if s[i] != ",":
                raise _Fallback
            i += 1
            if i < n and s[i] in _BLANK:
                i = _ws(s, i)

    def submission(self, i: int, as_written: bool = True) -> tuple[Any, int]:
        """A submission: its answer compared with the previous answer and with its agent's truth (as written, the
        three fields read without a step per key: the same dict as the general walk's)."""
        m = _SUBMISSION(self.s, i) if as_written else None
        if m is not None:
            last, self.agent = self.last, int(m[1])
            answer, end = self._answer(m.end())
            if end < len(self.s) and self.s[end] == "}":
                return {"agent": self.agent, "round": int(m[2]), "answer": answer}, end + 1
            self.last = last  # not as written after all: read again by the general walk
        self.agent = None
        return self.object(i, self.sub_fields)

    def _agent(self, i: int) -> tuple[Any, int]:
        v, end = _scan(self.s, i)
        self.agent = v
        return v, end

    def _answer(self, i: int) -> tuple[Any, int]:
        a = self.agent
        own = self.truth[a] if type(a) is int and 0 <= a < len(self.truth) else None
        text, v, end = self.value(i, (self.last, own))
        self.last = (text, v)
        return v, end
