"""The scorer's relay prefilter (issue 16, target 2): credit.ContentViews._may_relay tries a shard's raw and
singleton-statistic fingerprints only on content that counts a number of the fingerprint's anchor
(Fingerprint.anchor). That is sound only if every match holds an anchor number: checked here on every task's
fingerprints against real team messages and against content made to match, and end to end on floods, where
scores with the prefilter must equal scores without it."""

from __future__ import annotations

import json

import pytest

from silo import replay_cache
from silo.agents.scripted import scripted_team
from silo.credit import ContentViews
from silo.episode import run_episode, run_sync
from silo.evidence import AllOf, AnyOf, Items, Value
from silo.evidence_text import parse
from silo.records import EpisodeConfig
from silo.scoring import score_episode
from silo.tasks import all_tasks, get_task, task_versions

TASKS = [get_task(f"{t.id}@{v}") for t in all_tasks() for v in task_versions(t.id)]
TEAMS = ("oracle", "gossip", "chatty", "smalltalk", "miscompute")


def _episode(inst, protocol: str, team: str):
    cfg = EpisodeConfig(task=inst.task, n_agents=inst.n_agents, protocol=protocol, team=team)
    return run_sync(run_episode(inst, cfg, scripted_team(team, inst, protocol)))


def _contents(task, inst) -> list[str]:
    """Messages of the scripted teams on this instance, the shards' texts and data, and each shard's statistic
    and the answer written out: content that does and does not match the fingerprints."""
    out = {e.content for team in TEAMS for e in _episode(inst, "p2p", team).events if e.content}
    for sh in inst.shards:
        out |= {sh.text, json.dumps(sh.data), f"my data: {sh.text}"}
        part = task.partial(sh.data, sh.agent, inst.params) if hasattr(task, "partial") else None
        out.add(f"agent {sh.agent}'s partial: {json.dumps(part, default=str)}")
    out.add(f"The answer is {json.dumps(inst.truth[0], default=str)}")
    return sorted(out)


def _fingerprints(task, inst):
    n = inst.n_agents
    for i in range(n):
        for j in range(n):
            one = frozenset({j})
            yield task.raw_fingerprint(inst, j, i)
            yield task.stat_fingerprint(inst, one, i)
            yield task.claim_fingerprint(inst, one, i)
        everyone = frozenset(range(n))
        yield task.stat_fingerprint(inst, everyone, i)
        yield task.claim_fingerprint(inst, everyone, i)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: f"{t.id}@{t.version}")
def test_every_match_of_an_anchored_fingerprint_counts_an_anchor_number(task):
    inst = task.make_instance(4, 11)
    texts = [parse(t) for t in _contents(task, inst)]
    fps = {repr(fp): fp for fp in _fingerprints(task, inst) if fp is not None}
    for fp in fps.values():
        anchor = fp.anchor()
        if anchor is None:
            continue
        for p in texts:
            if fp.matches(p):
                assert anchor & p.counts.keys(), (task.id, fp, p.source[:200])


def test_the_anchors_are_tried_on_content_that_matches():
    # the test above must see matches of anchored fingerprints, or it shows nothing
    seen = 0
    for task in (get_task("I-01"), get_task("III-21"), get_task("II-11")):
        inst = task.make_instance(4, 11)
        texts = [parse(t) for t in _contents(task, inst)]
        for fp in _fingerprints(task, inst):
            if fp is not None and fp.anchor():
                seen += sum(fp.matches(p) for p in texts)
    assert seen > 50


def test_anchors_of_the_general_fingerprints():
    assert Items((5, 7, 9)).anchor() == {5}
    assert Items((5, 7, 9), ordered=True).anchor() is None  # (may match down a table column)
    assert Items(()).anchor() == frozenset()
    assert Value(3.0).anchor() == {3} and Value(3, tol=0.5).anchor() is None
    assert AnyOf((Value(1), Items((4, 5, 6)))).anchor() == {1, 4}
    assert AnyOf((Value(1), Value(2, tol=1))).anchor() is None  # one part without an anchor: none
    assert AllOf((Value(2, tol=1), Value(8))).anchor() == {8}
    assert AllOf(()).anchor() == frozenset()


def _scores(eps, prefilter: bool, monkeypatch) -> list[dict]:
    replay_cache._shared.clear()
    with monkeypatch.context() as m:
        if not prefilter:
            m.setattr(ContentViews, "_may_relay", lambda self, i, c, p, js: js)
        return [score_episode(ep).model_dump() for ep in eps]


@pytest.mark.parametrize(("task_id", "protocol", "n"),
                         [("I-01", "p2p:grid", 16), ("I-01", "p2p:smallworld", 12), ("I-07", "p2p:grid", 9),
                          ("I-08", "broadcast", 6), ("I-06", "sfs", 6)])
def test_scores_with_the_prefilter_equal_scores_without_it(task_id, protocol, n, monkeypatch):
    inst = get_task(task_id).make_instance(n, 3)
    eps = [_episode(inst, protocol, team) for team in TEAMS]
    assert _scores(eps, True, monkeypatch) == _scores(eps, False, monkeypatch)
