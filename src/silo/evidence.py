"""Fingerprints: how a shard's information is recognised in free-text content.

A task says what information of agent j an agent i needs (raw items, or a sufficient
statistic of a set of shards); the scorer asks whether observed content matches.

False-positive guards (evidence is approximate, reach is exact):
- multiset matches need at least MIN_ITEMS items (a shard of two small numbers proves nothing);
- a single number is *weak* when it is an integer with |v| < 10 or a boolean: weak
  fingerprints count only as the answer itself (a candidate set covering the receiver's
  whole depends_on, sent by an agent that had reached all of it);
- evidence is only looked for in content whose causal upstream contains the agents credited.

Claims (a number beside a keyword in one sentence, a bare short statement) are evidence_claims.py's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from silo.attribution import attribution, named_sets  # noqa: F401 - importable from here as before
from silo.evidence_text import (  # noqa: F401 - the text helpers are importable from here as before
    _BIG,
    _HEDGES,
    _ROW,
    _TOKEN,
    _WORD,
    Parsed,
    _has_prefix,
    _nearest,
    _norm,
    _sentence_words,
    _sentences,
    number_spans,
    parse,
    sentence_spans,
    sentences,
    table_spans,
)

MIN_ITEMS = 3


class Fingerprint:
    """Something that can be recognised in parsed content."""

    weak: bool = False

    def matches(self, p: Parsed) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def labelled_only(self) -> Fingerprint | None:
        """Only the labelled-count alternatives ("apple: 5"), or None: how a relayed claim about one
        foreign shard may be recognised (a number merely near a keyword is too often another count)."""
        return None

    def without_scalars(self) -> Fingerprint | None:
        """This fingerprint minus its single-number alternatives (None if nothing is left): what may
        still count in content that is a paste of its author's own shard."""
        return self

    def strict(self, p: Parsed) -> bool:
        """Match by strong parts only: what may credit a set short of the whole answer (a weak
        alternative, e.g. a lone small count inside AnyOf, must not match by chance)."""
        return not self.weak and self.matches(p)

    def anchor(self) -> frozenset | None:
        """Numbers of which content must count one (a key of Parsed.counts) for matches(), hence strict(), to
        hold; None: no such set known (every content is tried). The replay skips, unsearched, the shards whose
        fingerprints' anchors a content does not hold (credit.ContentViews._may_relay)."""
        return None


@dataclass(frozen=True)
class Items(Fingerprint):
    """A multiset of numbers all present (ordered=True: as a contiguous run, in order)."""

    values: tuple
    ordered: bool = False
    domain: tuple[int, int] | None = None  # public value range [lo, hi]: see `exclusive`

    # the normalised values and their multiset, made on first use (derived, not compared): a task makes
    # far more fingerprints than the scorer ever matches (one per candidate set and receiver)
    @cached_property
    def _vals(self) -> tuple:
        vals = self.values
        if vals and set(map(type, vals)) == {int} and -_BIG < min(vals) and max(vals) < _BIG:
            return tuple(vals)  # what _norm gives each of them
        return tuple(map(_norm, vals))

    @cached_property
    def _need(self) -> tuple:
        return tuple(Counter(self._vals).items())

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.values) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        if not self.values or len(p.numbers) < len(self.values):
            return False
        vals = self._vals
        if self.ordered:  # in the running text, or down one column of a table
            return p.has_run(vals) or any(_contains_run(col, vals) for col in p.columns)
        counts = p.counts
        return all(counts.get(v, 0) >= c for v, c in self._need) and self._exclusive(p)

    def anchor(self) -> frozenset | None:
        # every value must be counted; not for an ordered run (it may match down a table column, read apart
        # from counts) nor a subclass (its own matches)
        if type(self) is not Items or self.ordered:
            return None
        return frozenset(self._vals[:1])

    def _exclusive(self, p: Parsed) -> bool:
        """With a public domain, a set is not shown by content listing most of the domain (the public
        value range or every node id matches any set): at most max(2, 10%) other domain values may appear."""
        if self.domain is None:
            return True
        lo, hi = self.domain
        have = set(self._vals)
        limit = max(2, len(have) // 10)
        extra = sum(1 for x in p.counts if lo <= x <= hi and x not in have)
        return extra <= limit or _section_shows(p.numbers, have, (lo, hi), limit)


def _section_shows(nums: tuple, have: set, domain: tuple[int, int], limit: int) -> bool:
    """Whether one stretch of the content lists every value of `have` with at most `limit` other domain
    values inside it: a relay that forwards several shards' sets one after another shows each of them,
    while a listing of the whole domain (every node id) covers a set only with most other ids in between."""
    lo, hi = domain
    inside: Counter = Counter()
    extras: Counter = Counter()
    start = 0
    for x in nums:
        if x in have:
            inside[x] += 1
        elif lo <= x <= hi:
            extras[x] += 1
        while len(inside) == len(have):
            if len(extras) <= limit:
                return True
            y = nums[start]
            start += 1
            bucket = inside if y in have else extras if lo <= y <= hi else None
            if bucket is not None:
                bucket[y] -= 1
                if not bucket[y]:
                    del bucket[y]
    return False


def _contains_run(seq: tuple, run: tuple) -> bool:
    """Whether `run` occurs in `seq` as a contiguous stretch (tuple.index finds each start candidate in C)."""
    n = len(run)
    first, stop = run[0], len(seq) - n + 1
    if stop <= 0:
        return False
    k = -1
    while True:
        try:
            k = seq.index(first, k + 1, stop)
        except ValueError:
            return False
        if seq[k:k + n] == run:
            return True


@dataclass(frozen=True)
class Value(Fingerprint):
    """One number, matched within a tolerance."""

    def without_scalars(self) -> Fingerprint | None:
        return None

    value: float
    tol: float = 0.0

    @property
    def weak(self) -> bool:  # type: ignore[override]
        v = self.value
        return isinstance(v, bool) or (float(v).is_integer() and abs(v) < 10)

    def anchor(self) -> frozenset | None:
        return frozenset({_norm(self.value)}) if self.tol == 0 and type(self) is Value else None

    def matches(self, p: Parsed) -> bool:
        if self.tol == 0:
            return p.counts.get(_norm(self.value), 0) > 0
        return any(abs(x - self.value) <= self.tol + 1e-9 for x in p.counts)


@dataclass(frozen=True)
class Words(Fingerprint):
    """A multiset of words (case-insensitive) all present."""

    values: tuple[str, ...]
    strong: bool = False
    ordered: bool = False  # as a contiguous run, in order (a pasted list), not just somewhere

    @cached_property  # the lowercase run and multiset, made on first use (not compared: derived)
    def _run(self) -> tuple:
        return tuple(v.lower() for v in self.values)

    @cached_property
    def _need(self) -> tuple:
        return tuple(Counter(self._run).items())

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return not self.strong and len(self.values) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        if self.ordered:
            return bool(self.values) and _contains_run(p.wordseq, self._run)
        words = p.words
        return bool(self.values) and all(words.get(w, 0) >= c for w, c in self._need)


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

    def labelled_only(self) -> Fingerprint | None:
        return self

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

    def anchor(self) -> frozenset | None:
        if type(self) is not AnyOf:
            return None
        got: set = set()
        for f in self.parts:
            a = f.anchor()
            if a is None:
                return None
            got |= a
        return frozenset(got)

    def without_scalars(self) -> Fingerprint | None:
        kept = [f.without_scalars() for f in self.parts]
        if all(x is f for x, f in zip(kept, self.parts, strict=True)):
            return self  # nothing scalar inside
        parts = tuple(x for x in kept if x is not None)
        return None if not parts else parts[0] if len(parts) == 1 else AnyOf(parts)

    def labelled_only(self) -> Fingerprint | None:
        parts = tuple(x for x in (f.labelled_only() for f in self.parts) if x is not None)
        return None if not parts else parts[0] if len(parts) == 1 else AnyOf(parts)


@dataclass(frozen=True)
class AllOf(Fingerprint):
    """Matches when every part matches; weak only if every part is weak."""

    parts: tuple[Fingerprint, ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return all(f.weak for f in self.parts)

    def matches(self, p: Parsed) -> bool:
        return bool(self.parts) and all(f.matches(p) for f in self.parts)

    def anchor(self) -> frozenset | None:
        if type(self) is not AllOf:
            return None
        if not self.parts:
            return frozenset()  # (matches nothing)
        return next((a for a in (f.anchor() for f in self.parts) if a is not None), None)  # (every part must match)


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
# claim kinds (TaskSpec.claim_fingerprint) that match by chance more often than CHANCE_THRESHOLD, per
# task: "foreign" (a relayed claim about one other shard, labelled form) and "several" (a claim about a
# set of shards, e.g. a running total). Measured by scripts/chance_match.py (docs/chance_match.md);
# these are never credited. An author's claim about its own shard is credited on authorship.
CLAIMS_OFF: dict[str, frozenset[str]] = {
    "I-02": frozenset({"foreign"}),
}


def guard_ok(task_id: str, kind: str) -> bool:
    """Whether a task's claims of this kind ("foreign" or "several") may be credited."""
    return kind not in CLAIMS_OFF.get(task_id, _NO_CLAIMS_OFF)


_NO_CLAIMS_OFF: frozenset[str] = frozenset()
