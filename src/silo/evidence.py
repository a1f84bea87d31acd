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
# a count beside its label: apple: 5, "Bob": 9, Carol = 3, kiwi,2 (CSV), | mango | 6 | (a table row)
_LABELLED = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)[\"']?[ \t]*(?:[:=,|]|->|\bis\b|\bhas\b|\bwas\b)?[ \t]*"
                       r"(-?\d+(?:\.\d+)?)")  # on one line: "apple\n6,kiwi" is a table, not a count
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b0[bB][01]+\b")
_CELL = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_JOINERS = frozenset({"and", "or", "then"})
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})


_BIG = 10 ** 300  # ints up to here convert to float (beyond it float() raises, as it always has)


def _norm(x: float) -> float | int:
    """Normalise a number so 3, 3.0 and '3.00' compare equal."""
    if type(x) is int and -_BIG < x < _BIG:  # the common case, unchanged by the general rule below
        return x
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
    columns: tuple[tuple[float | int, ...], ...] = ()  # number columns of markdown tables, top to bottom
    text: str = field(default="", compare=False, repr=False)  # the normalised text (for Near)
    wordseq: tuple[str, ...] = field(default=(), compare=False, repr=False)  # lowercase words in order


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
    seq = tuple(w.lower() for w in _WORD.findall(text))
    words = Counter(seq)
    seq = tuple(w for w in seq if w not in _JOINERS)  # "apple, kiwi and mango" is one run
    bits = tuple(re.sub(r"[^01]", "", m) for m in _BITS.findall(text))
    labelled = frozenset((w.lower(), _norm(float(v))) for w, v in _LABELLED.findall(text))
    tables = _table_columns(text) if "|" in text or ("," in text and "\n" in text) else ()
    return Parsed(nums, counts, words, bits, labelled, tables, text, seq)


def _table_columns(text: str) -> tuple[tuple[float | int, ...], ...]:
    """Columns of numbers of every table block: markdown rows ('|'-separated cells) or CSV rows (2+ lines of
    ','-separated cells), each column the cells that are a lone number, top to bottom."""
    out, block, kind = [], [], None
    for line in [*text.splitlines(), ""]:
        row = line.strip()
        sep = "|" if "|" in row else "," if "," in row and row[:1] not in "[{(\"" else None
        cells = [c.strip() for c in row.strip("|").split(sep)] if sep else None
        if cells and len(cells) >= 2 and sep == (kind or sep):
            block.append(cells)
            kind = sep
            continue
        if len(block) >= 2:
            for k in range(max(map(len, block))):
                col = [c[k] for c in block if k < len(c) and _CELL.fullmatch(c[k])]
                if len(col) >= 2:
                    out.append(tuple(_norm(float(x.replace(",", ""))) for x in col))
        block, kind = ([cells], sep) if cells and len(cells) >= 2 else ([], None)
    return tuple(out)


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
        if self.ordered:  # in the running text, or down one column of a table
            return _contains_run(p.numbers, vals) or any(_contains_run(col, vals) for col in p.columns)
        counts = p.counts
        return all(counts.get(v, 0) >= c for v, c in self._need) and self._exclusive(p)

    def _exclusive(self, p: Parsed) -> bool:
        """With a public domain, a set is not shown by content listing most of the domain (the public
        value range or every node id matches any set): at most max(2, 10%) other domain values may appear."""
        if self.domain is None:
            return True
        lo, hi = self.domain
        have = set(self._norm)
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

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return not self.strong and len(self.values) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        if self.ordered:
            run = tuple(v.lower() for v in self.values)
            return bool(run) and _contains_run(p.wordseq, run)
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

    def labelled_only(self) -> Fingerprint | None:
        return self

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return not self.strong and sum(1 for _, v in self.pairs if v) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        need = [(k.lower(), _norm(v)) for k, v in self.pairs if v]
        return bool(need) and all(x in p.labelled for x in need)


@dataclass(frozen=True)
class Near(Fingerprint):
    """A claim stated in one sentence: the sentence names a keyword (and one of each `also` group) and
    the number nearest to the keyword is the value ("apple appears 7 times", "12 of my numbers are in
    range", "XOR is 0xc8"), or, with `words`, it contains one of those words ("none of my lines is an
    ERROR"). Public numbers (`public`: task parameters, the shard length) and agent ids ("agent 3",
    "agents 0-1") are not candidates; a hedged sentence ("I'd guess", "probably") claims nothing.

    Keywords match as word prefixes, case-insensitively ("apple" also finds "apples").
    Used only through TaskSpec.claim_fingerprint, which the scorer gates (provenance, measured rates)."""

    keywords: tuple[str, ...]
    value: float | None = None
    words: tuple[str, ...] = ()
    also: tuple[tuple[str, ...], ...] = ()
    public: tuple[float, ...] = ()

    def without_scalars(self) -> Fingerprint | None:
        return None if self.value is not None else self

    def matches(self, p: Parsed) -> bool:
        want = None if self.value is None else _norm(self.value)
        for sent in _sentences(p.text):
            words = _sentence_words(sent)
            if _ROW.match(sent) or words & _HEDGES or not _has_prefix(words, self.keywords):
                continue
            if not all(_has_prefix(words, g) for g in self.also):
                continue
            if self.words and any(w in words for w in self.words):
                return True
            if want is not None and _nearest(sent, self.keywords, self.public) == want:
                return True
        return False


_ROW = re.compile(r"^\s*\|?\s*[\w.\-]+\s*(?:[,|;\t]\s*[\w.\-]*\s*)+$")  # a table or CSV row, not a statement
_HEDGES = frozenset({"guess", "probably", "likely", "assume", "maybe", "perhaps", "estimate", "expect"})
_SENTENCE = re.compile(r"(?<=[.!?])\s+|[\n;]+")
_AGENT_ID = re.compile(r"\bagents?\s*#?\d+(?:\s*(?:[-,/&]|and|to)\s*\d+)*", re.IGNORECASE)
_TOKEN = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b0[bB][01]+\b|(?<![\w.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)"
                    r"|(?<![\w.\-])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?")


def sentences(text: str) -> tuple[str, ...]:
    """Sentences and lines of a text, agent ids ("agent 3", "agents 0-1") blanked out."""
    return _sentences(text)


@lru_cache(maxsize=50000)
def _sentences(text: str) -> tuple[str, ...]:
    """Sentences and lines of a text, agent ids blanked out."""
    return tuple(_AGENT_ID.sub(lambda m: " " * len(m.group()), s) for s in _SENTENCE.split(text) if s.strip())


@lru_cache(maxsize=50000)
def _sentence_words(sent: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(sent))


@lru_cache(maxsize=50000)
def _nearest(sent: str, keywords: tuple[str, ...], public: tuple[float, ...]) -> float | int | None:
    """The number (not a public one) closest in characters to an occurrence of a keyword."""
    nums = []
    for m in _TOKEN.finditer(sent):
        t = m.group()
        v = int(t, 0) if t[:2].lower() in ("0x", "0b") else _norm(float(t.replace(",", "")))
        if v not in public:
            nums.append((m.start(), m.end(), v))
    keys = [(m.start(), m.end()) for m in re.finditer(r"\b(?:" + "|".join(map(re.escape, keywords)) + ")",
                                                      sent, re.IGNORECASE)]
    best = None
    for a, b, v in nums:
        d = min(max(ka - b, a - kb, 0) for ka, kb in keys)
        if best is None or d < best[0]:
            best = (d, v)
    return None if best is None else best[1]


_POSSESSIVE = re.compile(r"\bagent\s*#?(\d+)(?:['\u2019]s\b|\s+(?:has|holds|had|reported|reports|says|said|sent)\b)",
                         re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:my|mine|I have|I hold|I count|I found|I got)\b", re.IGNORECASE)
_COLLECTIVE = re.compile(r"\b(?:total|overall|global|all|every\w*|combined|merged|together|across|so far|running|"
                         r"answer|sum|union|altogether|through|adding|plus)\b", re.IGNORECASE)


def attribution(sentence: str, author: int) -> int | None:
    """The one shard a sentence attributes its numbers to ("agent 6's max: 9995", "my count is 5"), or None
    (no attribution, several sources such as "mine and agent 0's", or a collective word: "total",
    "combined", "running", "answer"). The author naming itself ("agent 3 here") is first person."""
    if _COLLECTIVE.search(sentence):
        return None
    owners = {int(m.group(1)) for m in _POSSESSIVE.finditer(sentence)} - {author}
    others = {int(m.group(1)) for m in _AGENT.finditer(sentence)} - {author}
    first = bool(_FIRST_PERSON.search(sentence)) or bool(_POSSESSIVE_SELF(sentence, author))
    if len(owners) == 1 and others == owners and not first:
        return owners.pop()
    return author if first and not others else None


_AGENT = re.compile(r"\bagents?\s*#?(\d+)", re.IGNORECASE)


def _POSSESSIVE_SELF(sentence: str, author: int) -> bool:  # noqa: N802 - reads as a pattern
    return any(int(m.group(1)) == author for m in _POSSESSIVE.finditer(sentence))


_NAMED = re.compile(r"\bagents?\s*#?(\d+(?:\s*(?:[-\u2013]|,|and|&|to|\+)\s*(?:agents?\s*)?#?\d+)+)", re.IGNORECASE)


@lru_cache(maxsize=50000)
def named_sets(text: str) -> tuple[frozenset[int], ...]:
    """Sets of agents a text names together ("agents 3, 5 and 7", "agents 0-3", "agent 1 and agent 2")."""
    out = []
    for m in _NAMED.finditer(text.translate(_MINUS)):
        body = m.group(1)
        ids: set[int] = set()
        for part in re.split(r"\s*(?:,|and|&|\+)\s*(?:agents?\s*)?#?", body, flags=re.IGNORECASE):
            rng = re.match(r"(\d+)\s*(?:-|to)\s*(?:agents?\s*)?#?(\d+)$", part.strip(), re.IGNORECASE)
            if rng and int(rng.group(2)) - int(rng.group(1)) < 1000:
                ids.update(range(int(rng.group(1)), int(rng.group(2)) + 1))
            elif part.strip().isdigit():
                ids.add(int(part))
        if len(ids) >= 2:
            out.append(frozenset(ids))
    return tuple(dict.fromkeys(out))


def number_spans(text: str) -> tuple[tuple[int, int, float | int], ...]:
    """(start, end, value) of every number of `text`, in order, as parse reads them."""
    text = text.translate(_MINUS)
    return tuple((m.start(), m.end(), _norm(float(m.group()))) for m in _NUM.finditer(text))


_NUMERIC_FIRST = re.compile(r"^\s*\|?\s*-?\d")  # a row led by a number (an index, a data cell), not a label


def table_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) offsets of table blocks: 2+ consecutive markdown or CSV rows led by a number (data, such
    as an index column); rows led by a label ("sum,1165.78", "| apple | 4 |") state values and stay."""
    out, pos, block = [], 0, []
    for line in [*text.split("\n"), None]:
        if line is not None and _ROW.match(line) and _NUMERIC_FIRST.match(line):
            block.append((pos, pos + len(line)))
        else:
            if len(block) >= 2:
                out.append((block[0][0], block[-1][1]))
            block = []
        pos += len(line) + 1 if line is not None else 0
    return tuple(out)


def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) offsets of the sentences and lines of `text`."""
    text = text.translate(_MINUS)
    out, pos = [], 0
    for m in _SENTENCE.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return tuple(out)


def _has_prefix(words: frozenset[str], keys: tuple[str, ...]) -> bool:
    return any(w.startswith(k) for w in words for k in keys)


@dataclass(frozen=True)
class Short(Fingerprint):
    """A fingerprint matched only in short content (at most `most` distinct numbers, 0x / 0b literals as
    one): a bare statement "my partial: 35 (0b100011)" is a claim, the same number in a list is not."""

    part: Fingerprint
    most: int = 2

    def without_scalars(self) -> Fingerprint | None:
        return None

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return self.part.weak

    def matches(self, p: Parsed) -> bool:
        return len(set(_TOKEN.findall(p.text))) <= self.most and self.part.matches(p)


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
    return kind not in CLAIMS_OFF.get(task_id, frozenset())
