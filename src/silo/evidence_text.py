"""Text structure for evidence: how content is read (numbers, words, tables, sentences).

parse() reads a piece of content once into Parsed tokens (cached per text: a broadcast read by N-1
agents is parsed once); the span helpers (sentences, number_spans, table_spans, sentence_spans) and
silo.attribution (attribution, named_sets) let the scorer see which numbers a sentence states, for whom,
and which stretches are pasted data. Fingerprints (silo.evidence) match against Parsed.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import filterfalse, zip_longest
from sys import intern

from silo.sized_cache import SizedCache

# a number: optional sign (not the hyphen of a range like "10-20" or an id like "r-5"), digits, decimals
# (the digits match with or without the look-behind, which only guards the sign: this form, the same matches as
# "(?<![\w.\-])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?", tries it only at a minus and is found ~20% sooner)
_NUM = re.compile(r"\d+(?:\.\d+)?|(?<![\w.\-])-\d+(?:\.\d+)?")
# thousands-grouped: 1,234 or 1,234,567.89 (no space after the commas, groups of exactly 3 digits)
_GROUPED = re.compile(r"(?<![\w.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)")
_GROUPED_HINT = re.compile(r",\d{3}")  # what every _GROUPED match holds (found far sooner than a match is ruled out)
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_BITS = re.compile(r"[01](?:[\s,;\[\]]*[01])*")
# a count beside its label: apple: 5, "Bob": 9, Carol = 3, kiwi,2 (CSV), | mango | 6 | (a table row)
# (?<![A-Za-z_]): a label is not tried from inside a word; the matches are the same (wherever one could start
# after a letter, one starts at that letter too, and a match ends in a digit), found in linear time, not quadratic
_LABELLED = re.compile(r"(?<![A-Za-z_])([A-Za-z_][A-Za-z_0-9]*)[\"']?[ \t]*(?:[:=,|]|->|\bis\b|\bhas\b|\bwas\b)?[ \t]*"
                       r"(-?\d+(?:\.\d+)?)")  # on one line: "apple\n6,kiwi" is a table, not a count
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b0[bB][01]+\b")
_HEXISH = re.compile(r"0[xXbB]")  # what every _HEX match holds
_NOT_BIT = re.compile(r"[^01]")
_CELL = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_JOINERS = frozenset({"and", "or", "then"})
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})


_BIG = 10 ** 300  # ints up to here convert to float (beyond it float() raises, as it always has)


def _norm(x: float) -> float | int:
    """Normalise a number so 3, 3.0 and '3.00' compare equal."""
    if type(x) is int and -_BIG < x < _BIG:  # the common case, unchanged by the general rule below
        return x
    return int(x) if float(x).is_integer() else round(float(x), 6)


@lru_cache(maxsize=1 << 16)
def _value(token: str) -> float | int:
    """_norm(float(token)) of a number token as _NUM finds it (up to 15 digits without a point: the int)."""
    return int(token) if len(token) < 16 and "." not in token else _norm(float(token))


@dataclass(frozen=True)
class Parsed:
    """Tokens of one piece of content, parsed once.

    numbers: every number in order ("1,234" is read as 1 and 234, so compact lists like "[1,2,3]"
    stay three numbers); counts: the multiset of numbers plus thousands-grouped readings ("1,234"
    also counts as 1234) and 0x / 0b literals; labelled: (label, number) pairs of a number right after a word."""

    numbers: tuple[float | int, ...]
    counts: Counter = field(compare=False)
    words: Counter = field(compare=False)
    text: str = field(default="", compare=False, repr=False)  # the normalised text (for Near)
    wordseq: tuple[str, ...] = field(default=(), compare=False, repr=False)  # lowercase words in order
    # the text parse read, and its labelled pairs and table columns once read (`labelled`, `columns`): a copy
    # made by replace() keeps all three, so its pairs and columns are its original's (unless given: _columns=()),
    # as when they were read up front; columns are no longer compared (nothing compares Parsed values)
    source: str = field(default="", compare=False, repr=False)
    _labelled: frozenset | None = field(default=None, compare=False, repr=False)
    _columns: tuple | None = field(default=None, compare=False, repr=False)
    _bitruns: tuple | None = field(default=None, compare=False, repr=False)

    @property
    def bitruns(self) -> tuple[str, ...]:
        """0/1 runs ("0 1 1", "[1,0]" -> "011", "10"), read from the source on first use: few tasks' fingerprints
        look at them (at N = 1,000 on a small world they were 7% of the parse cache). From the source (the text
        parse() read), not `text`: a copy made by replace() with another text keeps its original's runs, as when
        they were read up front."""
        got = self._bitruns
        if got is None:
            got = tuple(m if len(m) == 1 else _NOT_BIT.sub("", m) for m in _BITS.findall(self.source))
            object.__setattr__(self, "_bitruns", got)  # (frozen: set once, always to the same value)
        return got

    @property
    def columns(self) -> tuple[tuple[float | int, ...], ...]:
        """Number columns of markdown or CSV tables, top to bottom, read from the source on first use (only
        ordered fingerprints that miss the running text and a few tasks' hooks look at them)."""
        got = self._columns
        if got is None:
            text = self.source
            got = _table_columns(text) if "|" in text or ("," in text and "\n" in text) else ()
            object.__setattr__(self, "_columns", got)  # (frozen: set once, always to the same value)
        return got

    @property
    def labelled(self) -> frozenset:
        """(label, number) pairs, read from the source on first use: few fingerprints look at them, and their
        regular expression costs as much as reading every number."""
        got = self._labelled
        if got is None:
            got = frozenset((w.lower(), _value(v)) for w, v in _LABELLED.findall(self.source))
            object.__setattr__(self, "_labelled", got)  # (frozen: set once, always to the same value)
        return got

    @property
    def _positions(self) -> dict:
        """number -> its positions in `numbers`, made on first use and kept for the last _POSITIONS_KEPT contents
        asked (not on the content: it was a third of the parse cache at N = 1,000 on a small world, and the runs
        of one content are looked for together). Not a field: replace() makes a copy with its own."""
        got = _POSITIONS.get(id(self))
        if got is not None and got[0] is self:  # (the entry holds the content: its id is not reused meanwhile)
            return got[1]
        where: dict = {}
        for k, x in enumerate(self.numbers):  # (machine ints in an array: a list of ints held an int object per
            where.setdefault(x, array("l")).append(k)  # position past 256, 1.4 GB at N = 1,000 on a small world)
        if len(_POSITIONS) >= _POSITIONS_KEPT:
            del _POSITIONS[next(iter(_POSITIONS))]  # (the oldest asked first)
        _POSITIONS[id(self)] = (self, where)
        return where

    @cached_property
    def adjacent(self) -> frozenset:
        """(a, b) of every two neighbouring numbers (made on first use, once per content: Pairs fingerprints of
        every shard are matched against it)."""
        nums = self.numbers
        return frozenset(zip(nums, nums[1:], strict=False))

    def has_run(self, run: tuple) -> bool:
        """Whether the non-empty `run` occurs in `numbers` as a contiguous stretch: only the positions of the
        rarest of its first values are tried (a run of small counts starts at hundreds of places of a paste)."""
        seq, n = self.numbers, len(run)
        if n > len(seq):
            return False
        where = self._positions
        best = None
        for k in range(min(n, 4)):
            pos = where.get(run[k])
            if pos is None:
                return False
            if best is None or len(pos) < len(best[1]):
                best = (k, pos)
        k, pos = best  # type: ignore[misc]
        stop = len(seq) - n
        return any(0 <= q - k <= stop and seq[q - k:q - k + n] == run for q in pos)


_POSITIONS: dict[int, tuple[Parsed, dict]] = {}
_POSITIONS_KEPT = 256
LONG = 256  # characters from which a text's Parsed is kept by size, not by count
LONG_KEPT = 8_000_000  # characters of long texts whose Parsed are kept (the most recently asked)
_LONG = SizedCache(LONG_KEPT)


def parse(text: str) -> Parsed:
    """Extract numbers (in order), thousands-grouped numbers, words, labelled counts and 0/1 runs. Cached per text:
    the last 50,000 short texts, and longer ones up to LONG_KEPT characters in all. A Parsed costs ~20-30 bytes a
    character of its text, and a flood at N = 1,000 carries ~10^8 characters of distinct text, each read within a
    round or two of its send: 8 million characters (~200 MB) hold more than a round of such a flood. The old budget
    (64 million, and texts up to 2,048 characters counted by number) held 1-2 GB; at 8 million, II-11 over a small
    world of N = 1,000 parses 6,627 long texts again (35,220 parses, not 28,593: docs/benchmarks.md, session 14)."""
    if len(text) < LONG:
        return _parse_short(text)
    got = _LONG.get(text)
    if got is None:
        _LONG.limit = LONG_KEPT  # (read at each put: a test may set it)
        got = _LONG.put(text, _parse(text), len(text))
    return got


@lru_cache(maxsize=50000)
def _parse_short(text: str) -> Parsed:
    return _parse(text)


def _parse(text: str) -> Parsed:
    if "\u2212" in text or "\u2013" in text:  # (else the text itself, not a copy kept beside it in the cache)
        text = text.translate(_MINUS)
    nums, counts = _numbers(text)
    # (C loops: the same tuples as loops over the words; interned, so every "from" or "data" of every message is
    # one string, not a copy per occurrence: 0.75 GB of word copies at N = 1,000 on a small world)
    seq = tuple(map(intern, map(str.lower, _WORD.findall(text))))
    words = Counter(seq)
    seq = tuple(filterfalse(_JOINERS.__contains__, seq))  # "apple, kiwi and mango" is one run
    return Parsed(nums, counts, words, text, seq, source=text)


def number_values(text: str) -> set:
    """The distinct numbers of parse(text).counts, alone (the scorer's map of which shard holds which number
    needs no more): each distinct token read once, not every occurrence."""
    text = text.translate(_MINUS)
    values = set(map(_value, set(_NUM.findall(text))))
    if "," in text and _GROUPED_HINT.search(text):
        values.update(_norm(float(m.replace(",", ""))) for m in _GROUPED.findall(text))
    if _HEXISH.search(text):
        values.update(int(m, 0) for m in _HEX.findall(text))
    return values


def _numbers(text: str) -> tuple[tuple, Counter]:
    """(numbers in order, counts) of a text already normalised by _MINUS, as parse reads them."""
    nums = tuple(map(_value, _NUM.findall(text)))
    counts = Counter(nums)
    # (each pattern is searched only where the characters it needs occur: the same matches, found sooner)
    for m in _GROUPED.findall(text) if "," in text and _GROUPED_HINT.search(text) else ():
        counts[_norm(float(m.replace(",", "")))] += 1
    for m in _HEX.findall(text) if _HEXISH.search(text) else ():  # 0x1a, 0b1010: also the integer they spell
        counts[int(m, 0)] += 1
    return nums, counts


def _table_columns(text: str) -> tuple[tuple[float | int, ...], ...]:
    """Columns of numbers of every table block: markdown rows ('|'-separated cells) or CSV rows (2+ lines of
    ','-separated cells), each column the cells that are a lone number, top to bottom. A row that runs on
    into the next part of the message ("27,1 I think the answer is ...") ends at its number (see _unglue)."""
    out, block, kind = [], [], None
    lines = [*text.splitlines(), ""]
    k = -1
    while (k := k + 1) < len(lines):
        row = lines[k].strip()
        sep = "|" if "|" in row else "," if "," in row and row[:1] not in "[{(\"" else None
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        glued = _unglue(row, kind, nxt) if block and " " in row and len(_cells(row, kind)) >= 2 else None
        if glued:  # ends at the glued number ("27,1 | # |": still CSV); the rest is read on its own
            sep, row, lines[k + 1:k + 1] = kind, glued[0], ["", glued[1]]
        cells = [c.strip() for c in row.strip("|").split(sep)] if sep else None
        if cells and len(cells) >= 2 and sep == (kind or sep):
            block.append(cells)
            kind = sep
            continue
        if len(block) >= 2:
            for column in zip_longest(*block, fillvalue=""):  # top to bottom; a short row has no cell ("")
                col = list(filter(_CELL.fullmatch, column))
                if len(col) >= 2:  # (_value of the digits is _norm(float(...)) of them)
                    out.append(tuple(_value(x.replace(",", "") if "," in x else x) for x in col))
        block, kind = ([cells], sep) if cells and len(cells) >= 2 else ([], None)
    return tuple(out)


# a cell that is a number followed by more text on the same line: where a table row may run on into a sentence
_GLUE = {",": re.compile(r"(?:^|,)[ \t]*(-?\d+(?:\.\d+)?)[ \t]+(?=[^\s,])"),
         "|": re.compile(r"(?:^|\|)[ \t]*(-?\d+(?:\.\d+)?)[ \t]+(?=[^\s|])")}
_UNIT = re.compile(r"-?\d+(?:\.\d+)?\s+\S")  # a cell such as "5 units"


def _cells(line: str, sep: str) -> list[str]:
    """The cells of `line` as a row of that kind ([]: it is no such row)."""
    line = line.strip()
    if sep not in line or (sep == "," and line[:1] in "[{(\""):
        return []
    return [c.strip() for c in line.strip("|").split(sep)]


def _unglue(row: str, sep: str | None, nxt: str) -> tuple[str, str] | None:
    """A table row that runs on into the next part of a message, split as (the row up to its first cell that is
    a number followed by other text, that text): parts joined by a space turn "27,1" + "Here is ..." into one
    line "27,1 Here is ...", whose last cell is no number. None when the row is whole: no such cell, or the next
    line is a row as wide with a number and text in the same cell (a table of "5 units" cells goes on)."""
    m = _GLUE[sep].search(row) if sep else None
    if not m:
        return None
    here, there = _cells(row, sep), _cells(nxt, sep)
    at = len(_cells(row[:m.end(1)], sep)) - 1
    if len(there) == len(here) and 0 <= at < len(there) and _UNIT.match(there[at]):
        return None
    return row[:m.end(1)], row[m.end():]


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


def number_spans(text: str) -> tuple[tuple[int, int, float | int], ...]:
    """(start, end, value) of every number of `text`, in order, as parse reads them."""
    text = text.translate(_MINUS)
    return tuple((m.start(), m.end(), _value(m.group())) for m in _NUM.finditer(text))


_NUMERIC_FIRST = re.compile(r"^\s*\|?\s*-?\d")  # a row led by a number (an index, a data cell), not a label


def table_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) offsets of table blocks: 2+ consecutive markdown or CSV rows led by a number (data, such
    as an index column); rows led by a label ("sum,1165.78", "| apple | 4 |") state values and stay. A row
    that runs on into a sentence ("27,1 I think ...") ends the block at its number (see _unglue)."""
    out, pos, block = [], 0, []
    lines = text.split("\n")
    for k, line in enumerate([*lines, None]):
        glued = None
        if line is not None and block and not _ROW.match(line):
            sep = "|" if line.lstrip().startswith("|") else "," if "," in line else None
            glued = _unglue(line, sep, lines[k + 1] if k + 1 < len(lines) else "")
        if glued and _ROW.match(glued[0]) and _NUMERIC_FIRST.match(glued[0]):
            block.append((pos, pos + len(glued[0])))
            line = None  # the rest of the line is not a table row: the block ends here
        elif line is not None and _ROW.match(line) and _NUMERIC_FIRST.match(line):
            block.append((pos, pos + len(line)))
            pos += len(line) + 1
            continue
        if len(block) >= 2:
            out.append((block[0][0], block[-1][1]))
        block = []
        pos += len(lines[k]) + 1 if k < len(lines) else 0
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
