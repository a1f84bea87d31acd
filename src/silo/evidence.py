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
# a number: optional sign (not the hyphen of a range like "10-20" or an id like "r-5"), digits, decimals
_NUM = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?")
# thousands-grouped: 1,234 or 1,234,567.89 (no space after the commas, groups of exactly 3 digits)
_GROUPED = re.compile(r"(?<![\w.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_BITS = re.compile(r"[01](?:[\s,;\[\]]*[01])*")
# a count beside its label: apple: 5, "Bob": 9, Carol = 3, Dave 4 votes (label, optional quote/colon/=, number)
_LABELLED = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)[\"']?\s*(?:[:=]|->|\bis\b|\bhas\b)?\s*(-?\d+(?:\.\d+)?)")
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b0[bB][01]+\b")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})


def _norm(x: float) -> float | int:
    """Normalise a number so 3, 3.0 and '3.00' compare equal."""
    return int(x) if float(x).is_integer() else round(float(x), 6)


@dataclass(frozen=True)
class Parsed:
    """Tokens of one piece of content, parsed once.

    numbers: every number in order ("1,234" is read as 1 and 234, so compact lists like "[1,2,3]"
    stay three numbers); counts: the multiset of numbers plus thousands-grouped readings ("1,234"
    also counts as 1234) and 0x / 0b literals; labelled: (label, number) pairs of a number right after a word."""

    numbers: tuple[float | int, ...]
    counts: Counter = field(compare=False)
    words: Counter = field(compare=False)
    bitruns: tuple[str, ...]
    labelled: frozenset = field(default=frozenset(), compare=False)


@lru_cache(maxsize=50000)
def parse(text: str) -> Parsed:
    """Extract numbers (in order), thousands-grouped numbers, words, labelled counts and 0/1 runs."""
    text = text.translate(_MINUS)
    nums = tuple(_norm(float(m)) for m in _NUM.findall(text))
    counts = Counter(nums)
    for m in _GROUPED.findall(text):
        counts[_norm(float(m.replace(",", "")))] += 1
    for m in _HEX.findall(text):  # 0x1a, 0b1010: also counted as the integer they spell
        counts[int(m, 0)] += 1
    words = Counter(w.lower() for w in _WORD.findall(text))
    bits = tuple(re.sub(r"[^01]", "", m) for m in _BITS.findall(text))
    labelled = frozenset((w.lower(), _norm(float(v))) for w, v in _LABELLED.findall(text))
    return Parsed(nums, counts, words, bits, labelled)


class Fingerprint:
    """Something that can be recognised in parsed content."""

    weak: bool = False

    def matches(self, p: Parsed) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def strict(self, p: Parsed) -> bool:
        """Match by strong parts only: what may credit a set short of the whole answer (a weak
        alternative, e.g. a lone small count inside AnyOf, must not match by chance)."""
        return not self.weak and self.matches(p)


@dataclass(frozen=True)
class Items(Fingerprint):
    """A multiset of numbers all present (ordered=True: as a contiguous run, in order)."""

    values: tuple
    ordered: bool = False
    domain: tuple[int, int] | None = None  # public value range [lo, hi]: see `exclusive`

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
        return all(counts.get(v, 0) >= c for v, c in self._need) and self._exclusive(p)

    def _exclusive(self, p: Parsed) -> bool:
        """With a public domain, a set is not shown by content listing most of the domain (the public
        value range or every node id matches any set): at most max(2, 10%) other domain values may appear."""
        if self.domain is None:
            return True
        lo, hi = self.domain
        have = set(self._norm)
        extra = sum(1 for x in p.counts if lo <= x <= hi and x not in have)
        return extra <= max(2, len(have) // 10)


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
        return any(abs(x - self.value) <= self.tol + 1e-9 for x in p.counts)


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
class Labelled(Fingerprint):
    """Counts beside their labels ("Bob: 9, Alice: 7", {"apple": 5}), pairs in any order.

    Every pair with a non-zero count must appear (a zero count is often left out)."""

    pairs: tuple[tuple[str, float], ...]
    strong: bool = False  # a task-specific label ("apple: 5"): one pair is enough

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return not self.strong and sum(1 for _, v in self.pairs if v) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        need = [(k.lower(), _norm(v)) for k, v in self.pairs if v]
        return bool(need) and all(x in p.labelled for x in need)


@dataclass(frozen=True)
class AnyOf(Fingerprint):
    """Matches when any part matches; weak only if every part is weak."""

    parts: tuple[Fingerprint, ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return all(f.weak for f in self.parts)

    def matches(self, p: Parsed) -> bool:
        return any(f.matches(p) for f in self.parts)

    def strict(self, p: Parsed) -> bool:
        return any(f.strict(p) for f in self.parts)


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



CHANCE_THRESHOLD = 0.01
# tasks whose claims (TaskSpec.claim_fingerprint) match by chance more often than CHANCE_THRESHOLD:
# measured by scripts/chance_match.py (docs/chance_match.md); their claims are never credited
CLAIMS_OFF: frozenset[str] = frozenset({"I-05", "I-06"})


def guard_ok(task_id: str) -> bool:
    """Whether a task's claims may be credited (their measured chance-match rate is under the threshold)."""
    return task_id not in CLAIMS_OFF
