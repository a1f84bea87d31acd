"""The scorer's caches shared by every replay of one instance (issue 16): scores with them are the scores without.

Episodes of one instance (the grid scores each under 3 protocols, and by several teams) share one cache of
fingerprints, views of content and credit of content, valid only for an instance of identical content.
Scores of real scripted episodes made with warm caches are compared to scores made with a cold cache each
time, and an instance that reuses an id with other data must not inherit the first one's credit.
"""

from __future__ import annotations

import pytest

from silo import replay_cache
from silo.agents.scripted import scripted_team
from silo.episode import run_episode, run_sync
from silo.records import EpisodeConfig
from silo.scoring import distinct_answers, score_episode
from silo.tasks import get_task


def _episode(inst, protocol: str, team: str):
    cfg = EpisodeConfig(task=inst.task, n_agents=inst.n_agents, protocol=protocol, team=team)
    return run_sync(run_episode(inst, cfg, scripted_team(team, inst, protocol)))


def _cold(ep):
    replay_cache._shared.clear()
    return score_episode(ep).model_dump()


def test_an_equal_instance_shares_one_cache_and_other_content_does_not():
    task = get_task("I-05")
    a = task.make_instance(5, 3)
    assert replay_cache.shared_cache(task, a) is replay_cache.shared_cache(task, a.model_copy(deep=True))
    other = a.model_copy(deep=True)
    other.shards[2].data[0] += 1  # the same id, other data
    assert replay_cache.shared_cache(task, other) is not replay_cache.shared_cache(task, a)
    typed = a.model_copy(deep=True)
    typed.truth[0] = float(typed.truth[0])  # 3 and 3.0 are equal, but not the same content
    assert replay_cache.shared_cache(task, typed) is not replay_cache.shared_cache(task, a)


def test_an_instance_reusing_an_id_with_other_data_is_scored_afresh():
    # the oracle's messages carry shard 1's numbers; an instance of the same id whose shard 1 differs
    # must not be credited from the first instance's search
    inst = get_task("III-21").make_instance(3, 7)
    ep = _episode(inst, "p2p", "oracle")
    first = score_episode(ep).model_dump()
    changed = inst.model_copy(deep=True)
    changed.shards[1].data = [v + 1000 for v in changed.shards[1].data]
    ep2 = ep.model_copy(update={"instance": changed})
    warm = score_episode(ep2).model_dump()
    cold = _cold(ep2)
    assert warm == cold
    assert [a["evidence"] for a in cold["agents"]] != [a["evidence"] for a in first["agents"]]


CASES = [("I-02", 5), ("II-11", 5), ("II-14", 5), ("II-20", 5), ("III-21", 5), ("III-29", 5), ("III-30", 2)]


@pytest.mark.parametrize(("task_id", "n"), CASES)
def test_scores_with_shared_caches_equal_scores_with_cold_ones(task_id, n):
    inst = get_task(task_id).make_instance(n, 5)
    eps = [_episode(inst, protocol, team) for team in ("chatty", "oracle", "gossip")
           for protocol in ("p2p", "broadcast", "sfs")]
    cold = [_cold(ep) for ep in eps]
    replay_cache._shared.clear()
    warm = [score_episode(ep).model_dump() for ep in eps + eps]  # each scored twice: the second from the cache
    assert warm == cold + cold


def test_distinct_answers_counts_one_object_given_many_times_once():
    task = get_task("III-30")
    m = [[1, 2], [3, 4]]
    assert distinct_answers(task, [m, m, m]) == 1
    assert distinct_answers(task, [m, [[1, 2], [3, 5]], m]) == 2
    assert distinct_answers(task, [m, [[1.0, 2], [3, 4]]]) == 1  # canonical JSON: 1.0 is 1
