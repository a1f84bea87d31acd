"""Claim fingerprints: a shard's information stated rather than shown.

A claim is a statement about a shard in its author's words: a number beside a keyword in one sentence
("apple appears 7 times", Near), or a bare short statement ("my partial: 35", Short). Tasks offer them
through TaskSpec.claim_fingerprint, which the scorer gates (provenance, and the chance-match guards of
evidence.CLAIMS_OFF); the raw items and statistics they stand beside are evidence.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from silo.evidence import Fingerprint
from silo.evidence_text import _HEDGES, _ROW, _TOKEN, Parsed, _has_prefix, _nearest, _norm, _sentence_words, _sentences


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
