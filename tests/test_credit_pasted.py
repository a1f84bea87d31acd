"""credit's pasted-data test: the shortcut (no map of every shard's numbers where no stretch of 3 numbers without
words exists) gives the indices the plain run walk gives, on texts mixing a shard's numbers, words and JSON keys."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from silo.credit import _WordRuns
from silo.evidence_text import number_spans
from silo.replay import Replay
from silo.tasks import get_task

TASK = get_task("I-05")
INST = TASK.make_instance(4, 1)
REP = Replay(TASK, INST)


def _walk(rep: Replay, text: str, spans) -> set[int]:
    """The run walk without the shortcut: every number looked up in the map of holders."""
    return rep._run_walk(spans, _WordRuns(text))


_DATA = [str(x) for s in INST.shards for x in s.data[:6]]
_TOKEN = st.one_of(st.sampled_from(_DATA), st.sampled_from(["7", "-3", "0.5", "12345"]),
                   st.sampled_from(['"from":', '"data":', "agent", "x", "ab", "é", "to"]),
                   st.sampled_from([", ", " ", "[", "]", "\n", "{", "}", ": ", "-", "\u2212"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_TOKEN, st.sampled_from(_DATA).map(lambda x: x + ",")), max_size=14))
def test_pasted_indices_are_the_run_walks(tokens):
    text = "".join(tokens)
    rep = REP
    spans = number_spans(text)
    assert rep._pasted(text, spans) == _walk(rep, text, spans)


def test_a_json_message_needs_no_map_of_the_shards_and_a_pasted_list_is_found():
    rep = Replay(TASK, INST)
    rep._fp.pop("holders", None)
    msg = '{"from":1,"to":0,"kind":"partial","data":{"below":3,"inside":21,"above":6}}'
    assert rep._pasted(msg, number_spans(msg)) == set()
    assert "holders" not in rep._fp
    pasted = "my data: " + ", ".join(map(str, INST.shards[2].data[:5]))
    assert rep._pasted(pasted, number_spans(pasted)) == {0, 1, 2, 3, 4}
    three = '{"data":[' + ','.join(map(str, INST.shards[1].data[:3])) + ']}'  # the shortest run: 3 numbers
    assert rep._pasted(three, number_spans(three)) == {0, 1, 2}
