"""A weak whole answer (a boolean, a count below 10) counts only in a sentence that states it (credit._hit):
"so" only as a conclusion ("So the answer is 4", "..., so 4"), not "so far", "so that", "or so" or "so I";
a question ("is there any 4?", "did anyone get 4?") and a quantifier ("most of my 4 ...", "at most 4") state
nothing (session 6, scorer version 5). The fingerprints are the tasks' own, of real instances; the texts are
written here around the instance's answer, so each one says what it says whatever the scorer does."""

from __future__ import annotations

import pytest

from silo.credit import _hit
from silo.evidence import parse
from silo.tasks import get_task


def _whole(task: str, n: int, want):
    """(the fingerprint of every shard, the answer) of the first instance whose answer satisfies `want`."""
    t = get_task(task)
    for seed in range(500):
        inst = t.make_instance(n, seed)
        if want(inst.truth[0]):
            return t.stat_fingerprint(inst, frozenset(range(n)), 0), inst.truth[0]
    raise AssertionError(f"no {task} instance at N={n} with the wanted answer")


COUNT = _whole("II-15", 3, lambda v: 3 <= v <= 9)  # a pattern count: weak (an integer below 10)

STRAY = (
    "So far I've heard from {v} of you; I'll run the machine next round.",
    "Thanks, that makes {v} pieces so far.",
    "I'll wait {v} more rounds so that the last piece is in.",
    "That took {v} rounds or so.",
    "I got {v} messages, so I waited for the last piece.",
    "I've had {v} pieces so far and I'm scanning them now, so hang on.",
    "Is there any piece with {v} matches in it?",
    "Did anyone else count {v}?",
    "Anyone got {v} for their own piece?",
    "Most of my {v} A's come early.",
    "At most {v} of us have sent a piece.",
)

STATED = (
    "So the answer is {v}.",
    "So, {v} matches.",
    "So: {v}",
    "Putting the three pieces together, so {v}.",
    "That is the whole string, so it's {v}.",
    "The last piece adds no match, so that's {v}.",
    "There are {v} complete matches in the whole string.",
    "{v} matches in total.",
    "The final count is {v}!",
)


@pytest.mark.parametrize("text", STRAY)
def test_a_stray_small_number_is_not_a_stated_answer(text):
    fp, v = COUNT
    p = parse(text.format(v=v))
    assert fp.matches(p), "the number is there: only the sentence decides"
    assert not _hit(fp, p, None, whole=True)


@pytest.mark.parametrize("text", STATED)
def test_a_stated_small_answer_still_counts(text):
    fp, v = COUNT
    assert _hit(fp, parse(text.format(v=v)), None, whole=True)
    assert not _hit(fp, parse(text.format(v=v + 1)), None, whole=True)


@pytest.mark.parametrize(("text", "counts"), [
    ("Is there any ERROR line at all, or is it {b}?", False),
    ("Did anyone find an ERROR line, or is it {b}?", False),
    ("My part says {b} so far, still waiting on the others.", False),
    ("There is no ERROR line anywhere, so {b}.", True),
    ("So the answer is {b}.", True),
])
def test_booleans_follow_the_same_rule(text, counts):
    fp, v = _whole("I-04", 3, lambda v: v is False)
    assert _hit(fp, parse(text.format(b="false")), None, whole=True) is counts
