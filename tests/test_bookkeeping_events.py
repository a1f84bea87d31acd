"""The engine's bookkeeping events (waits, action echoes) share their empty parts: same record, less memory."""

from __future__ import annotations

import json

import pytest

from silo.agents.scripted import scripted_team
from silo.episode import run_episode, run_sync
from silo.records import EpisodeConfig, Event
from silo.scoring import score_episode
from silo.tasks import get_task


@pytest.fixture(scope="module", params=["p2p", "broadcast", "p2p:ring", "p2p+commit", "p2p+suff"])
def episode(request):
    inst = get_task("I-01").make_instance(12, 0)
    cfg = EpisodeConfig(task="I-01", n_agents=12, protocol=request.param, team="oracle")
    return run_sync(run_episode(inst, cfg, scripted_team("oracle", inst, request.param)))


def test_shared_parts_leave_every_event_as_validated(episode):
    """Each event, dumped, equals the event validated afresh from plain JSON values (what a reader builds),
    field for field and in the writer's form (exclude_none), and so does every score."""
    assert episode.status == "complete"
    kinds = {e.kind for e in episode.events}
    assert {"wait", "action"} <= kinds
    fresh = [Event.model_validate(json.loads(e.model_dump_json())) for e in episode.events]
    for e, f in zip(episode.events, fresh, strict=True):
        assert e.model_dump_json(exclude_none=True) == f.model_dump_json(exclude_none=True)
        assert e == f
    again = episode.model_copy(update={"events": fresh})
    assert score_episode(again) == score_episode(episode)


def test_waits_and_echoes_share_their_empty_args_and_data(episode):
    """The memory saving itself: one empty args/data dict and one fields-set for all waits, and one result
    dict per count among the echoes (a plain Event has its own of each)."""
    waits = [e for e in episode.events if e.kind == "wait"]
    echoes = [e for e in episode.events if e.kind == "action"]
    assert len(waits) > 12 and echoes
    assert len({id(e.args) for e in waits} | {id(e.data) for e in waits}) == 1
    assert len({id(e.__pydantic_fields_set__) for e in waits}) == 1
    counts = {json.dumps(e.result) for e in echoes}
    assert len({id(e.result) for e in echoes}) == len(counts)
    # a copy with an update (what sanitising does) changes that copy only
    changed = waits[0].model_copy(update={"data": {"note": 1}})
    assert changed.data == {"note": 1} and waits[1].data == {} and waits[0].data == {}
    assert "data" not in waits[1].model_fields_set


@pytest.mark.parametrize("protocol", ["p2p", "sfs", "broadcast"])
def test_sends_and_file_reads_share_their_empty_parts_and_stay_the_same_record(protocol):
    """Sends and file reads (one per message or per file read: gossip over p2p or sfs at N = 1,000 logs ~10^6)
    share their empty args/data and their fields-set, and each still equals the event validated afresh from
    its JSON, in the writer's form; the episode scores the same from the fresh events."""
    inst = get_task("I-01").make_instance(8, 0)
    cfg = EpisodeConfig(task="I-01", n_agents=8, protocol=protocol, team="gossip")
    ep = run_sync(run_episode(inst, cfg, scripted_team("gossip", inst, protocol)))
    assert ep.status == "complete"
    mine = [e for e in ep.events if e.kind == ("read" if protocol == "sfs" else "send")]
    assert len(mine) == (8 if protocol == "broadcast" else 8 * 7)  # one broadcast, or one per other agent
    assert len({id(e.args) for e in mine} | {id(e.data) for e in mine}) == 1
    assert len({id(e.__pydantic_fields_set__) for e in mine}) == 1
    assert all(e.args == {} and e.data == {} for e in mine)
    fresh = [Event.model_validate(json.loads(e.model_dump_json())) for e in ep.events]
    for e, f in zip(ep.events, fresh, strict=True):
        assert e.model_dump_json(exclude_none=True) == f.model_dump_json(exclude_none=True)
        assert e == f
    assert score_episode(ep.model_copy(update={"events": fresh})) == score_episode(ep)
