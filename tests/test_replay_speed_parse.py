"""parse() made faster (issue 16) reads exactly what the plain patterns read.

_LABELLED no longer tries a label from inside a word: on words glued to digits, labels after digits, and
runs of labels, its matches must equal those of the plain pattern (without the look-behind)."""

from __future__ import annotations

import re

import pytest

from silo.evidence_text import _LABELLED, parse

PLAIN = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)[\"']?[ \t]*(?:[:=,|]|->|\bis\b|\bhas\b|\bwas\b)?[ \t]*"
                   r"(-?\d+(?:\.\d+)?)")

TEXTS = ["apple: 5, kiwi=3", "5apples 3", "x1y2 z", "version2 is 7", "a_b_c9d 10 e", "r2d2c3po 4",
         "abc1def2ghi3", "word word2 word3: 4", "0x1f has 3", "__init__ 2", "apple\n6,kiwi", "Bob's 9 | Carol = 3",
         "no digits here at all", "agent 3 has 12 and agent10 has 4", "12ab34cd 5", "mango | 6 |"]


@pytest.mark.parametrize("text", TEXTS)
def test_labels_are_the_plain_patterns_labels(text):
    assert _LABELLED.findall(text) == PLAIN.findall(text)


def test_parse_reads_grouped_hex_and_bits_only_where_they_are():
    p = parse("total 1,234 and 0x1f, bits 1 0 1 1")
    assert p.counts[1234] == 1 and p.counts[31] == 1 and "1011" in p.bitruns
    q = parse("total 2345 and 789")  # no comma, no 0x, no 0 or 1
    assert 2345 in q.counts and 789 in q.counts and q.bitruns == ()
