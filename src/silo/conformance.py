"""Conformance checks shipped with the library: every task x protocol x N with the reference teams.

This is the benchmark's proof that every task is solvable within R_max and that the
scorer attributes each designed failure to its class.
"""

from __future__ import annotations

from silo.agents.scripted import scripted_team
from silo.episode import run_episode, run_sync
from silo.records import EpisodeConfig, EpisodeScore
from silo.scoring import score_episode
from silo.tasks import get_task

CONFORMANCE_N = (1, 2, 5, 10, 20, 50, 100)
EXPECTED = {
    "oracle": {"correct"},
    "gossip": {"correct"},
    "premature": {"uninformed", "lucky"},
    "miscompute": {"integration_error"},
    "silent": {"no_answer"},
}


def run_reference(task: str, protocol: str, n: int, team: str, seed: int = 0, **cfg) -> EpisodeScore:
    """Run one scripted reference team on one instance and score it."""
    proto = "none" if n == 1 else protocol
    inst = get_task(task).make_instance(n, seed)
    config = EpisodeConfig(task=inst.task, n_agents=n, protocol=proto, team=team, suite_seed=seed, **cfg)
    ep = run_sync(run_episode(inst, config, scripted_team(team, inst, proto)))
    return score_episode(ep)


def allowed_outcomes(team: str, self_sufficient: bool) -> set[str]:
    """Designed outcome classes; an agent whose answer depends only on its own shard is correct alone."""
    if team == "premature" and self_sufficient:
        return {"correct"}  # e.g. N = 1, or agent 0 of a prefix sum: submitting at once is optimal
    return set(EXPECTED[team])


def check_reference(task: str, protocol: str, n: int, team: str, seed: int = 0) -> list[str]:
    """Problems found (empty list when the team lands exactly in its designed outcome classes)."""
    s = run_reference(task, protocol, n, team, seed)
    spec = get_task(task)
    inst = spec.make_instance(n, seed)
    problems = []
    if team in ("oracle", "gossip"):
        if s.status != "complete":
            problems.append(f"{team} did not finish: status {s.status} after {s.rounds} rounds")
        if not all(a.held for a in s.agents):
            problems.append(f"{team}: agents not held: {[a.agent for a in s.agents if not a.held][:10]}")
    bad = []
    for a in s.agents:
        allowed = allowed_outcomes(team, spec.depends_on(inst, a.agent) == {a.agent})
        if a.outcome not in allowed:
            bad.append((a.agent, a.outcome, sorted(allowed)))
    if bad:
        problems.append(f"{team}: unexpected outcomes (agent, outcome, allowed): {bad[:10]}")
    return problems
