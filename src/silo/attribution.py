"""Who a sentence speaks for: the one shard a sentence attributes its numbers to (attribution), and the sets of
agents a text names together (named_sets); silo.credit and silo.replay read content with them."""

from __future__ import annotations

import re
from functools import lru_cache

from silo.evidence_text import _MINUS

_POSSESSIVE = re.compile(r"\bagent\s*#?(\d+)(?:['\u2019]s\b|\s+(?:has|holds|had|reported|reports|says|said|sent)\b)",
                         re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:my|mine|I have|I hold|I count|I found|I got)\b", re.IGNORECASE)
_COLLECTIVE = re.compile(r"\b(?:total|overall|global|all|every\w*|combined|merged|together|across|so far|running|"
                         r"answer|sum|union|altogether|through|adding|plus)\b", re.IGNORECASE)


def attribution(sentence: str, author: int) -> int | None:
    """The one shard a sentence attributes its numbers to ("agent 6's max: 9995", "my count is 5"), or None
    (no attribution, several sources such as "mine and agent 0's", or a collective word: "total",
    "combined", "running", "answer"). The author naming itself ("agent 3 here") is first person."""
    if "agent" not in sentence.lower() and not _FIRST_PERSON.search(sentence):
        return None  # names no agent and speaks for no one (most lines: data): what the rules below give it
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
    if "agent" not in text.lower():  # (what every match starts with, any case: most content names no agent)
        return ()
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
