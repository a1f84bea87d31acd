"""Fingerprints: how a shard's information is recognised in free-text content.

A task says what information of agent j an agent i needs (raw items, or a sufficient
statistic of a set of shards); the scorer asks whether observed content matches.

False-positive guards (evidence is approximate, reach is exact):
- multiset matches need at least MIN_ITEMS items (a shard of two small numbers proves nothing);
- a single number is *weak* when it is an integer with |v| < 10 or a boolean: weak
  fingerprints count only as the answer itself (a candidate set covering the receiver's
  whole depends_on, sent by an agent that had reached all of it);
- evidence is only looked for in content whose causal upstream contains the agents credited.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

MIN_ITEMS = 3
_NUM = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_BITS = re.compile(r"[01](?:[\s,;\[\]]*[01])*")


def _norm(x: float) -> float | int:
    """Normalise a number so 3, 3.0 and '3.00' compare equal."""
    return int(x) if float(x).is_integer() else round(float(x), 6)


@dataclass(frozen=True)
class Parsed:
    """Tokens of one piece of content, parsed once."""

    numbers: tuple[float | int, ...]
    counts: Counter = field(compare=False)
    words: Counter = field(compare=False)
    bitruns: tuple[str, ...]


@lru_cache(maxsize=50000)
def parse(text: str) -> Parsed:
    """Extract numbers (in order), words and runs of 0/1 digits from content."""
    nums = tuple(_norm(float(m)) for m in _NUM.findall(text))
    words = Counter(w.lower() for w in _WORD.findall(text))
    bits = tuple(re.sub(r"[^01]", "", m) for m in _BITS.findall(text))
    return Parsed(nums, Counter(nums), words, bits)


class Fingerprint:
    """Something that can be recognised in parsed content."""

    weak: bool = False

    def matches(self, p: Parsed) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Items(Fingerprint):
    """A multiset of numbers all present (ordered=True: as a contiguous run, in order)."""

    values: tuple
    ordered: bool = False

    def __post_init__(self):
        norm = tuple(_norm(v) for v in self.values)
        object.__setattr__(self, "_norm", norm)
        object.__setattr__(self, "_need", tuple(Counter(norm).items()))

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.values) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        vals = self._norm
        if not vals or len(p.numbers) < len(vals):
            return False
        if self.ordered:
            return _contains_run(p.numbers, vals)
        counts = p.counts
        return all(counts.get(v, 0) >= c for v, c in self._need)


def _contains_run(seq: tuple, run: tuple) -> bool:
    n = len(run)
    first = run[0]
    for k in range(len(seq) - n + 1):
        if seq[k] == first and seq[k:k + n] == run:
            return True
    return False


@dataclass(frozen=True)
class Value(Fingerprint):
    """One number, matched within a tolerance."""

    value: float
    tol: float = 0.0

    @property
    def weak(self) -> bool:  # type: ignore[override]
        v = self.value
        return isinstance(v, bool) or (float(v).is_integer() and abs(v) < 10)

    def matches(self, p: Parsed) -> bool:
        if self.tol == 0:
            return p.counts.get(_norm(self.value), 0) > 0
        return any(abs(x - self.value) <= self.tol + 1e-9 for x in p.numbers)


@dataclass(frozen=True)
class Words(Fingerprint):
    """A multiset of words (case-insensitive) all present."""

    values: tuple[str, ...]
    strong: bool = False

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return not self.strong and len(self.values) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        need = Counter(v.lower() for v in self.values)
        return bool(need) and all(p.words.get(w, 0) >= c for w, c in need.items())


@dataclass(frozen=True)
class Bits(Fingerprint):
    """A 0/1 pattern appearing inside one run of 0/1 digits (separators allowed)."""

    pattern: str

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.pattern) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        return any(self.pattern in run for run in p.bitruns)


@dataclass(frozen=True)
class AnyOf(Fingerprint):
    """Matches when any part matches; weak only if every part is weak."""

    parts: tuple[Fingerprint, ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return all(f.weak for f in self.parts)

    def matches(self, p: Parsed) -> bool:
        return any(f.matches(p) for f in self.parts)


@dataclass(frozen=True)
class AllOf(Fingerprint):
    """Matches when every part matches; weak only if every part is weak."""

    parts: tuple[Fingerprint, ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return all(f.weak for f in self.parts)

    def matches(self, p: Parsed) -> bool:
        return bool(self.parts) and all(f.matches(p) for f in self.parts)


def answer_fingerprint(answer, tol: float = 0.0) -> Fingerprint | None:
    """Fingerprint of a JSON answer value: numbers in order, words, or bits."""
    if isinstance(answer, bool):
        return Words(("true",) if answer else ("false",))
    if isinstance(answer, (int, float)):
        return Value(answer, tol)
    if isinstance(answer, str):
        return Words(tuple(_WORD.findall(answer))) if _WORD.search(answer) else None
    nums = _flatten_numbers(answer)
    return Items(tuple(nums), ordered=True) if nums else None


def _flatten_numbers(x) -> list:
    if isinstance(x, bool):
        return [int(x)]
    if isinstance(x, (int, float)):
        return [x]
    if isinstance(x, dict):
        return [n for k, v in x.items() for n in _flatten_numbers(_key_num(k)) + _flatten_numbers(v)]
    if isinstance(x, (list, tuple)):
        return [n for v in x for n in _flatten_numbers(v)]
    return []


def _key_num(k):
    try:
        return int(k)
    except (TypeError, ValueError):
        return None
