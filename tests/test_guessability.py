"""Guessability budget: no default task version is answerable without communication (docs/guessability.md).

The table is recomputed here on fewer instances, with a sampling margin; the full table (every N of the
grid, 100-400 instances per cell) is scripts/guessability.py's, checked below as committed.
"""

from __future__ import annotations

import pytest

from silo.conformance import run_reference
from silo.guess import BUDGET, GRID, allowed, best, cell, guessable, load_guessability
from silo.tasks import all_tasks, get_task, task_versions

SMALL_N = (2, 5)
INSTANCES = 80  # per cell here; 2.5 standard errors of the budget on top of it
LARGE_N = {"I-01": 100, "I-04": 50, "II-13": 100, "II-15": 50, "II-19": 50, "III-23": 100, "I-08": 20}


def over_budget(key: str, n: int, instances: int) -> tuple[str, float, float] | None:
    """(strategy, rate, limit) when the best trivial strategy beats the budget plus the sampling margin."""
    t = get_task(key)
    name, rate = best(cell(t, n, instances))
    b = allowed(t, n)
    limit = b + 2.5 * (b * (1 - b) / instances) ** 0.5
    return (name, rate, limit) if rate > limit else None


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.id)
def test_default_versions_within_budget_at_small_n(task):
    bad = {n: over_budget(task.id, n, INSTANCES) for n in SMALL_N}
    assert not any(bad.values()), f"{task.id} v{task.version} over budget: {bad}"


@pytest.mark.parametrize("tid,n", sorted(LARGE_N.items()))
def test_default_versions_within_budget_at_large_n(tid, n):
    # the tasks whose answers used to pile up at large N (value ranges covered, bounds hit, counts concentrated)
    assert over_budget(tid, n, 24) is None


@pytest.mark.parametrize("key,n", [("I-03@1", 2), ("II-15@1", 2), ("III-23@1", 2), ("I-08@1", 2),
                                   ("II-19@1", 50), ("I-01@1", 100)])
def test_the_check_catches_the_reference_generators(key, n):
    """The same check on the old versions fails: the test above can fail."""
    assert over_budget(key, n, 24 if n >= 50 else INSTANCES) is not None


def test_committed_table_covers_every_version_and_the_defaults_are_within_budget():
    table = load_guessability()
    keys = {get_task(f"{t.id}@{v}").key for t in all_tasks() for v in task_versions(t.id)}
    assert set(table) == keys, "data/guessability.json is stale: run scripts/guessability.py"
    for key, row in table.items():
        t = get_task(key)
        assert row["version"] == t.version and list(row["cells"]) == [str(n) for n in GRID]
        assert all(c["instances"] >= 100 for c in row["cells"].values())
        assert all(c["budget"] == round(max(BUDGET, t.inherent_chance(int(n))), 4) for n, c in row["cells"].items())
    assert not [k for k, r in table.items() if r["default"] and not r["within"]]
    assert {"I-03@1", "II-19@1", "III-23@1", "II-15@1"} <= {k for k, r in table.items() if r["guessable"]}


def test_guessable_flags_pinned_versions_only():
    assert guessable("I-03") is None and guessable("I-03", get_task("I-03").version) is None
    assert guessable("I-03@1")["key"] == "I-03@1" and guessable("I-03", 1)["key"] == "I-03@1"
    assert guessable("vote", 1)["lucky_max"] == 1.0  # every own-shard majority was the winner
    assert guessable("I-03@9") is None and guessable("no-such-task") is None


@pytest.mark.parametrize("key", ["I-03", "I-03@1"])
def test_premature_team_is_lucky_at_most_at_the_stated_chance(key):
    """Real episodes: the team that submits its own-shard answer in round 1."""
    n, seeds = 5, range(12)
    t = get_task(key)
    lucky = total = 0
    for seed in seeds:
        score = _premature(key, n, seed)
        lucky += sum(a.outcome == "lucky" for a in score.agents)
        total += len(score.agents)
    share = lucky / total
    if key == "I-03@1":
        assert share == 1.0  # v1: every shard's majority is the winner
    else:
        assert share <= t.inherent_chance(n) + 0.15, share


def _premature(key: str, n: int, seed: int):
    from silo.agents.scripted import scripted_team
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig
    from silo.scoring import score_episode

    if get_task(key).key == get_task(key).id:
        return run_reference(key, "p2p", n, "premature", seed)
    inst = get_task(key).make_instance(n, seed)  # a pinned version: the instance carries it
    config = EpisodeConfig(task=key, n_agents=n, protocol="p2p", team="premature", suite_seed=seed)
    return score_episode(run_sync(run_episode(inst, config, scripted_team("premature", inst, "p2p"))))
