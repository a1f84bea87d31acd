"""Scoring skips the listings that found nothing (event_lines.EMPTY_LISTING): exactly those, and the scores
do not move. The definition here is independent of the pattern: a line is an empty listing when its parsed
event is a `list` whose own `versions` and `result` are empty."""

import json

import pytest
from click.testing import CliRunner

from silo import episode_io, event_lines
from silo.cli import main
from silo.scoring import SCORED_KINDS, score_episode

SWEEP = ["run", "--team", "gossip,oracle", "--task", "I-01,II-11,III-21", "--n", "3,5", "--protocol",
         "sfs,blackboard", "--no-progress", "--no-preflight"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("listings") / "r"
    res = CliRunner().invoke(main, [*SWEEP, "-o", str(out)])
    assert res.exit_code == 0, res.output
    return episode_io.files(out / "episodes")


def _empty_listing(line: bytes) -> bool:
    e = json.loads(line)
    return e.get("kind") == "list" and e.get("versions") == [] and e.get("result") == []


def _event_lines(path):
    return episode_io._split(path)[2].split(b"\n")


def test_the_pattern_matches_exactly_the_empty_listings_the_engine_writes(files):
    counts = {True: 0, False: 0}
    for f in files:
        for line in _event_lines(f):
            if line:
                got = event_lines.EMPTY_LISTING(line) is not None
                assert got == _empty_listing(line), line[:200]
                counts[got] += 1
    assert counts[True] > 100 and counts[False] > 100  # both kinds of line were there to be told apart


@pytest.mark.parametrize("line", [
    b'{"round":1,"agent":0,"kind":"list","action":"list_files","args":{"prefix":"a","versions":[]},"result":[],'
    b'"versions":[3],"chars":0,"data":{}}',
    b'{"round":1,"agent":0,"kind":"list","action":"list_files","args":{"prefix":"a\\"},\\"versions\\":[],"},'
    b'"result":["a"],"versions":[3],"chars":1,"data":{}}',
    b'{"round":1,"agent":0,"kind":"list","action":"list_files","args":{"prefix":"a"},"result":[],"versions":[],'
    b'"chars":0,"data":{},"versions":[4]}',
    b'{"round":1,"agent":0,"kind":"send","action":"list_files","args":{"prefix":"a"},"result":[],"versions":[],'
    b'"chars":0,"data":{}}',
])
def test_a_line_of_any_other_shape_is_kept(line):
    assert event_lines.EMPTY_LISTING(line) is None
    assert event_lines.keep([line], SCORED_KINDS, skip_empty_listings=True) == [line] or b'"kind":"send"' in line


def test_an_escaped_prefix_is_still_an_empty_listing():
    line = (b'{"round":2,"agent":1,"kind":"list","action":"list_entries","args":{"prefix":"x\\"y\\\\"},'
            b'"result":[],"versions":[],"chars":0,"data":{}}')
    assert _empty_listing(line) and event_lines.EMPTY_LISTING(line) is not None


def test_scores_are_the_same_with_and_without_the_empty_listings(files):
    skipped = 0
    for f in files:
        full = episode_io.read_scored(f, SCORED_KINDS)
        lean = episode_io.read_scored(f, SCORED_KINDS, skip_empty_listings=True)
        skipped += len(full.events) - len(lean.events)
        assert lean.events == [e for e in full.events if not (e.kind == "list" and not e.versions)]
        assert score_episode(lean) == score_episode(full)
    assert skipped > 100
