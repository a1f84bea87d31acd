"""record_line.read reuses the previous record's instance when its text is the same (scoring reads an instance's
episodes one after the other): the values stay json.loads's own, and nothing is reused across different text."""

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from json_parity import assert_reads_like_json_loads
from silo import episode_io, record_line
from silo.agents.scripted import scripted_team
from silo.episode import run_episode
from silo.records import EpisodeConfig
from silo.scoring import SCORED_KINDS
from silo.tasks import get_task


def _line(inst, answers) -> bytes:
    subs = [{"agent": a, "round": 2, "answer": x} for a, x in enumerate(answers)]
    return json.dumps({"id": "e", "instance": inst, "submissions": subs, "status": "complete"},
                      separators=(",", ":")).encode()


def test_the_same_instance_text_is_the_known_value_and_answers_share_its_truth():
    m = [[1, 2], [3, 4]]
    inst = {"task": "t", "truth": [m, m, 7]}
    first, seen = record_line.read(_line(inst, [m, 5, 7]))
    assert first == json.loads(_line(inst, [m, 5, 7])) and seen is not None
    stand_in = object()  # what the caller keeps for the instance (scoring: its validated Instance)
    known = seen._replace(value=stand_in)
    d, again = record_line.read(_line(inst, [m, m, 7]), known)
    assert d["instance"] is stand_in and again is known
    assert d["submissions"][0]["answer"] is d["submissions"][1]["answer"] is seen.truth[0][1]
    assert d["submissions"] == json.loads(_line(inst, [m, m, 7]))["submissions"]


def test_other_text_is_parsed_again():
    inst = {"task": "t", "truth": [1, 2]}
    _, seen = record_line.read(_line(inst, [1, 2]))
    known = seen._replace(value=object())
    others = ({"task": "t", "truth": [1, 2], "x": 1}, {"task": "t", "truth": [1, 20]}, {"task": "u", "truth": [1, 2]})
    for other in others:
        d, now = record_line.read(_line(other, [1, 2]), known)
        assert d == json.loads(_line(other, [1, 2])) and now is not known and now.value == other
    spaced = _line(inst, [1, 2]).replace(b'"truth":', b'"truth": ')
    d, now = record_line.read(spaced, known)
    assert d["instance"] == inst and now is not known  # equal values, other text: parsed
    with pytest.raises(ValueError):  # as json.loads raises on the line
        record_line.read(_line(inst, [1, 2]) + b" x", known)


def test_read_scored_shares_an_instance_between_its_episodes_only(tmp_path):
    eps = []
    for task, n, protocol, team in [("I-01", 3, "p2p", "oracle"), ("I-01", 3, "broadcast", "gossip"),
                                    ("II-11", 3, "p2p", "oracle")]:
        inst = get_task(task).make_instance(n, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team)
        eps.append(asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol))))
        episode_io.write(tmp_path, eps[-1])
    got = [episode_io.read_scored(episode_io.path_for(tmp_path, e.id), SCORED_KINDS) for e in eps]
    assert got[1].instance is got[0].instance and got[2].instance is not got[1].instance
    assert [g.instance for g in got] == [e.instance for e in eps]
    assert [g.submissions for g in got] == [e.submissions for e in eps]


_SUB_PIECES = ['{"agent":', '"round":', '"answer":', "0", "-0", "01", "7", "-3", "1.5", "1e2", ",", "}", " ", "[", "]",
               '"x"', "null", "[[1,2],[3,4]]", "[[1,2],[3,4]", '{"a":1}', '"agent":1', "99999999999999999999"]


_written = st.builds(lambda a, r, x: json.dumps({"agent": a, "round": r, "answer": x}, separators=(",", ":")),
                     st.integers(-2, 5), st.integers(-1, 20),
                     st.sampled_from([5, [[1, 2], [3, 4]], "x", None, [1, 2], 7, -0.0, 1e300]))
_spelled = st.lists(st.sampled_from(_SUB_PIECES), max_size=9).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_written, _spelled), max_size=6))
def test_submissions_of_any_spelling_read_as_json_loads(texts):
    """Submissions as written (the fast path) and spelled otherwise (the general walk, or json.loads's error)."""
    inst = '{"task":"t","truth":[[[1,2],[3,4]],5,7,"x"]}'
    line = ('{"id":"e","instance":' + inst + ',"submissions":[' + ",".join(texts) + '],"status":"complete"}').encode()
    assert_reads_like_json_loads(record_line.loads, line)
    # a memoryview of the line (what episode_io.read_scored passes: the record not copied) reads the same
    assert_reads_like_json_loads(lambda b: record_line.read(memoryview(b + b"\n{}")[:len(b)])[0], line)
