"""Evidence hooks that keep coincidences from crediting a set (issue 12's held false positives, session 5):
each test builds content from the instance's own data, independently of the hook it checks."""

from __future__ import annotations

import json

from silo.evidence import parse
from silo.tasks import get_task


def test_distinct_set_not_shown_by_a_listing_of_every_possible_value():
    """III-26: "the possible values are 0, 1, ..., 149" lists every union and shows none; an unnamed
    summary of some of the shards is found from its values; a union in order still counts."""
    t = get_task("III-26")
    inst = t.make_instance(10, 7)
    top = inst.params["range_end"]
    group = frozenset({1, 4, 9})
    union = sorted({v for j in group for v in inst.shards[j].data})
    fp = t.stat_fingerprint(inst, group, 0)
    decoy = parse("For reference, the possible values are: " + ", ".join(map(str, range(top))) + ".")
    assert not fp.matches(decoy)
    assert fp.matches(parse("Combined summary: " + json.dumps(union)))
    shuffled = list(reversed(union))
    assert fp.matches(parse("values seen: " + ", ".join(map(str, shuffled))))
    sets = t.stat_sets(inst, parse("Combined summary: " + json.dumps(shuffled)), frozenset(range(10)), 0)
    assert any(s >= group for s in sets)
