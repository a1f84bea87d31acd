"""The event lines of an episode file: which to keep, found without a Python frame per line.

A reader (silo.episode_io) keeps a line if the text after its first `"kind":"` up to the next `"` is one
of the kinds asked for (`kind_of`: round and agent, numbers, are written before the kind, so that is the
event's own). `keep()` gives exactly those lines with one compiled regular expression per line, run by
`filter` (no Python call per line); `keep_after()` finds the same lines in the decompressed text itself, in
one pass of one expression (no bytes object for a line not kept: two thirds of the oracle grid's), the
empty listings scoring skips refused in the same pass. Each kept line is then validated by itself, as always
(`validated()`: a submit whose answer is its agent's long integer truth, one JSON value, with its skipped
args as `{}`: the same event, or the line's own error).
`gc_paused()` holds the cyclic garbage collector while a file is read (reading makes 10^5 objects and no
cycles).

Measured on the oracle grid's 570 files (docs/benchmarks.md): per-line validation is near pydantic's
floor; validating the distinct line texts once (most lines repeat an earlier one but for round and agent)
and building the rest without validation cost as much in object plumbing as it saved, so it is not done.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from itertools import filterfalse
from operator import itemgetter
from typing import Any

from silo.record_line import Known
from silo.records import ScoredEvent

KIND = b'"kind":"'
_check = ScoredEvent.__pydantic_validator__.validate_json  # what model_validate_json calls, unwrapped


def kind_of(line: bytes) -> bytes | None:
    """A line's kind, unparsed: the text after its first `"kind":"` up to the next `"` (the event's own: round
    and agent, numbers, are written before it). None if the line names no kind."""
    i = line.find(KIND)
    return None if i < 0 else line[i + 8:line.find(b'"', i + 8)]


# A listing that found nothing, exactly as the engine writes it (sfs list_files, the blackboard's list_entries):
# the whole line is matched, so the "versions" it shows is the event's own and empty (a listing's only field
# scoring reads: Replay._on_list); a line of any other shape (a nested "versions", more fields) never matches
def _empty(other: bytes, end: bytes) -> bytes:
    """EMPTY_LISTING's pattern; `other`: the bytes no class of it may match besides a quote and a backslash (a
    newline in a text of many lines), `end`: what follows its last brace."""
    return (rb'\{"round":\d+,"agent":\d+,"kind":"list","action":"(?:list_files|list_entries)",'
            rb'"args":\{"prefix":"(?:[^"\\' + other + rb']|\\' + (b"[^" + other + b"]" if other else b".")
            + rb')*+"\},"result":\[\],"versions":\[\],"chars":0,"data":\{\}\}' + end)


EMPTY_LISTING = re.compile(_empty(b"", b""), re.S).fullmatch


@lru_cache(maxsize=32)
def _pattern(kinds: frozenset[str], skip_empty_listings: bool, in_text: bool) -> bytes | None:
    """The pattern of a line kind_of() keeps, and with `skip_empty_listings` not one EMPTY_LISTING matches; None
    where it cannot be written (an empty kind name, or one holding a quote, which kind_of's slicing treats in its
    own way). `in_text`: the same lines found in a text of many lines (a newline, then the line as a group): no
    class may then match a newline, and a line ends at the next newline or at the text's end."""
    names = sorted(k.encode() for k in kinds)
    if not names or any(not k or b'"' in k for k in names):
        return None
    alt = b"|".join(re.escape(k) for k in names)
    nl, end = (rb"\n", rb"(?=\n|\Z)") if in_text else (b"", rb"\Z")
    # an empty listing refused up front, in the same pass (on every other line it fails at the kind)
    skip = b"(?!" + _empty(nl, end) + b")" if skip_empty_listings else b""
    # up to the first `"kind":"` (quotes not starting it skipped, never backtracked into), then a kind
    # asked for, then its closing quote (in a text: and the rest of the line); or, as kind_of() slices a
    # line with no quote after the kind (find gives -1), the kind and exactly one more byte, the line's last
    rest = rb"[^\n]*+" if in_text else b""
    line = (skip + rb'[^"' + nl + rb']*+(?>"(?!kind":")[^"' + nl + rb']*+)*+"kind":"(?:' + alt + rb')(?:"' + rest
            + rb'|[^"' + nl + b"]" + end + b")")
    return rb"\n(" + line + b")" if in_text else line


@lru_cache(maxsize=32)
def _matcher(kinds: frozenset[str], skip_empty_listings: bool = False) -> Callable[[bytes], Any] | None:
    """A compiled `match` that accepts exactly the lines keep() keeps (_pattern: None where there is none)."""
    p = _pattern(kinds, skip_empty_listings, False)
    return None if p is None else re.compile(p, re.S).match


_HEAD = rb'\{"round":\d+,"agent":\d+,"kind":"'  # how the engine starts a line: its first `"kind":"` is this one
_ONE = rb'[^"\n](?=\n|\Z)'  # kind_of's slice of a line with no quote after its kind: the kind, then one last byte
_line_of = itemgetter(0)


@lru_cache(maxsize=32)
def _finder(kinds: frozenset[str], skip_empty_listings: bool) -> Callable[..., list] | None:
    """findall of the lines kept in a text (_pattern's in_text lines), each as the first of a pair. A line that
    starts as the engine writes it (_HEAD, taken whole or not at all) is judged right after it, in the same pass:
    kept if its kind is one asked for (a listing, when empty ones are skipped: unless the rest of the line is an
    empty listing's); only any other line is tried by _pattern's general expression (no empty listing is among
    those: one starts with _HEAD)."""
    general = _pattern(kinds, False, True)
    if general is None:
        return None
    names = sorted(k.encode() for k in kinds)
    plain = [re.escape(k) for k in names if not (skip_empty_listings and k == b"list")]
    after = [b"(?:" + b"|".join(plain) + rb')(?:"[^\n]*+|' + _ONE + b")"] if plain else []
    if skip_empty_listings:
        empty = _empty(rb"\n", rb"(?=\n|\Z)")
        assert empty.startswith(_HEAD + b'list"')
        after.append(rb'list(?:"(?!' + empty[len(_HEAD) + 5:] + rb')[^\n]*+|' + _ONE + b")")
    line = b"(" + _HEAD + b")?+(?(2)(?:" + b"|".join(after) + b")|" + general[3:-1] + b")"
    return re.compile(rb"\n(" + line + b")", re.S).findall


def keep(lines: Iterable[bytes], kinds: frozenset[str], skip_empty_listings: bool = False) -> list[bytes]:
    """The lines whose kind_of() is one of `kinds`, in order; without EMPTY_LISTING lines if asked (scoring:
    on the oracle grid 60% of the lines it keeps are listings that found nothing)."""
    skip = skip_empty_listings and "list" in kinds
    match = _matcher(kinds, skip)
    if match is not None:
        return list(filter(match, lines))  # one pass, in C
    want = {k.encode() for k in kinds}
    kept = [x for x in lines if kind_of(x) in want]
    return list(filterfalse(EMPTY_LISTING, kept)) if skip else kept


def keep_after(text: bytes, pos: int, kinds: frozenset[str], skip_empty_listings: bool = False) -> list[bytes]:
    """keep() of the lines after the newline at text[pos] (none if pos is -1): exactly
    keep(text[pos + 1:].split(b"\\n"), ...), found in the text itself in one pass, without a bytes object per line
    (on the oracle grid two thirds of the lines are not kept)."""
    if pos < 0:
        return []
    find = _finder(kinds, skip_empty_listings and "list" in kinds)
    if find is None:
        return keep(text[pos + 1:].split(b"\n"), kinds, skip_empty_listings)
    return list(map(_line_of, find(text, pos)))


_DIGITS = b"-0123456789,"  # with brackets, the bytes of an integer or of a list or matrix of them in compact JSON
_SUBMIT = re.compile(rb'\{"round":\d+,"agent":(\d+),"kind":"submit","action":"submit_result","args":\{"answer":').match
_long: list = [None, {}]  # the record_line.Known long_answers saw last, and what it gave


def long_answers(seen: Known | None) -> dict[int, bytes]:
    """Per agent, the text of its truth where that is long (256 bytes or more), of integers only, and at most a
    matrix (two levels of lists): a text the json module's scanner read whole as one value in the record, which
    pydantic's JSON parser reads as one value too (no number of another syntax, no depth near its limit)."""
    if seen is None:
        return {}
    if _long[0] is not seen:
        texts: dict[int, bytes | None] = {}  # per text object (equal truths share one): its bytes, if it is one
        out = {}
        for agent, (text, _) in enumerate(seen.truth):
            if len(text) >= 256:
                if id(text) not in texts:
                    b = text.encode()
                    brackets = b.translate(None, _DIGITS)  # "" (a number), "[]" (a list), "[[]...[]]" (a matrix)
                    shallow = len(brackets) < 2 or brackets[1:-1].replace(b"[]", b"") == b""
                    texts[id(text)] = b if shallow and not brackets.translate(None, b"[]") else None
                if texts[id(text)] is not None:
                    out[agent] = texts[id(text)]
        _long[:] = [seen, out]
    return _long[1]


def validated(lines: list[bytes], long: dict[int, bytes]) -> list:
    """The ScoredEvent of each line, as if validated by itself (episode_io.read_scored), except that a submit whose
    answer is its agent's long truth (long_answers: one JSON value) is validated with `"args":{}` for its args
    (a field a ScoredEvent skips: one value for another leaves the line as valid or not, and the event the
    same); where that line is refused, the line itself is validated, so the error raised is its own."""
    out = []
    for x in lines:
        m = _SUBMIT(x)
        if m is not None:
            i = m.end()
            t = long.get(int(m[1]))
            if t is not None and x.startswith(t, i) and x.startswith(b"}", i + len(t)):
                try:
                    out.append(_check(x[:i - 10] + b"{}" + x[i + len(t) + 1:]))
                    continue
                except ValueError:
                    pass
        out.append(_check(x))
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a file is read (and, by score_jobs.score_file, scored):
    reading makes about 10^5 objects and no cycles, and every 700 new objects would start a collection walking
    the young ones (about a quarter of the CPU of reading the oracle grid's files); left as it was found."""
    on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if on:
            gc.enable()
