"""Sets of agent ids kept as Python ints (bit j set: agent j in the set), for the scorer's replay at large N.

A replay holds a reach and a provenance set, and a few evidence snapshots, for every state of every agent that
sends (silo.replay). As frozensets those are O(N) hash-table slots each, 16 bytes a slot: on a flood over a grid
of N = 1,000 about 10^5 states of up to N members, gigabytes. As ints they are N / 8 bytes. Where a set is read
as a set (the task's hooks, set algebra), `members` makes it, and keeps the last MEMBERS_KEPT made (the contents
of one round are read by their few receivers one after another).

`key` is the form of a set in a cache key: the set itself while it is small, its bits past KEY_SMALL members, so
a cache of fingerprints per candidate set does not keep every state's set alive. Both forms are exact (equal
sets, equal keys; different sets, different keys), so a cache hits exactly as it would with the sets.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import compress, count

MEMBERS_KEPT = 4096  # sets made from bits and kept (at N = 1,000 up to ~16 KB each)
KEY_SMALL = 64  # sets up to this size are their own cache key
PLAIN_KEPT = 1024  # large plain frozensets whose bits are kept (key)
_ONES = bytes.maketrans(b"01", b"\x00\x01")
_PLAIN: dict[int, tuple[frozenset[int], int]] = {}


class Members(frozenset):
    """A frozenset made from bits, which it carries (`bits`): its cache key costs nothing to make. Equal to, and
    hashed as, the frozenset of the same members; set algebra on it gives plain frozensets."""

    __slots__ = ("bits",)


def bits_of(s) -> int:
    """The bits of an iterable of distinct non-negative ints (a set; a list with no member twice)."""
    return s.bits if type(s) is Members else sum(map((1).__lshift__, s))


@lru_cache(maxsize=MEMBERS_KEPT)
def members(bits: int) -> Members:
    """The set of the bits set in `bits` (read from its binary digits, lowest first: C loops, no shift per bit)."""
    m = Members(compress(count(), bin(bits)[:1:-1].encode().translate(_ONES)))
    m.bits = bits
    return m


def key(s: frozenset[int]):
    """s's form in a cache key: s while it has at most KEY_SMALL members, else its bits. A large set that is not one
    made from bits (a task's own sets, e.g. II-11's prefixes 0..k, one object each, asked for again and again) has
    its bits kept by identity, up to PLAIN_KEPT sets (then all dropped; each entry holds its set, so its id is not
    reused)."""
    if len(s) <= KEY_SMALL:
        return s
    if type(s) is Members:
        return s.bits
    got = _PLAIN.get(id(s))
    if got is not None and got[0] is s:
        return got[1]
    if len(_PLAIN) >= PLAIN_KEPT:
        _PLAIN.clear()
    bits = bits_of(s)
    _PLAIN[id(s)] = (s, bits)
    return bits
