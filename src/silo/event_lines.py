"""The event lines of an episode file: which to keep, found without a Python frame per line.

A reader (silo.episode_io) keeps a line if the text after its first `"kind":"` up to the next `"` is one
of the kinds asked for (`kind_of`: round and agent, numbers, are written before the kind, so that is the
event's own). `keep()` gives exactly those lines with one compiled regular expression per line, run by
`filter` (no Python call per line); each kept line is then validated by itself, as always.
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
from typing import Any

KIND = b'"kind":"'


def kind_of(line: bytes) -> bytes | None:
    """A line's kind, unparsed: the text after its first `"kind":"` up to the next `"` (the event's own: round
    and agent, numbers, are written before it). None if the line names no kind."""
    i = line.find(KIND)
    return None if i < 0 else line[i + 8:line.find(b'"', i + 8)]


@lru_cache(maxsize=32)
def _matcher(kinds: frozenset[str]) -> Callable[[bytes], Any] | None:
    """A compiled `match` that accepts exactly the lines kind_of() keeps (None where it cannot: an empty kind
    name, or one holding a quote, which kind_of's slicing treats in its own way)."""
    names = sorted(k.encode() for k in kinds)
    if not names or any(not k or b'"' in k for k in names):
        return None
    # up to the first `"kind":"` (quotes not starting it skipped, never backtracked into), then a kind
    # asked for, then its closing quote; or, as kind_of() slices a line with no quote after the kind
    # (find gives -1), the kind and exactly one more byte, the line's last
    alt = b"|".join(re.escape(k) for k in names)
    return re.compile(rb'[^"]*+(?>"(?!kind":")[^"]*+)*+"kind":"(?:' + alt + rb')(?:"|[^"]\Z)', re.S).match


# A listing that found nothing, exactly as the engine writes it (sfs list_files, the blackboard's list_entries):
# the whole line is matched, so the "versions" it shows is the event's own and empty (a listing's only field
# scoring reads: Replay._on_list); a line of any other shape (a nested "versions", more fields) never matches
EMPTY_LISTING = re.compile(rb'\{"round":\d+,"agent":\d+,"kind":"list","action":"(?:list_files|list_entries)",'
                           rb'"args":\{"prefix":"(?:[^"\\]|\\.)*+"\},"result":\[\],"versions":\[\],"chars":0,'
                           rb'"data":\{\}\}', re.S).fullmatch


def keep(lines: Iterable[bytes], kinds: frozenset[str], skip_empty_listings: bool = False) -> list[bytes]:
    """The lines whose kind_of() is one of `kinds`, in order; without EMPTY_LISTING lines if asked (scoring:
    on the oracle grid 60% of the lines it keeps are listings that found nothing)."""
    match = _matcher(kinds)
    if match is not None:
        kept = list(filter(match, lines))
    else:
        want = {k.encode() for k in kinds}
        kept = [x for x in lines if kind_of(x) in want]
    return list(filterfalse(EMPTY_LISTING, kept)) if skip_empty_listings and "list" in kinds else kept


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
