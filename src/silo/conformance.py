"""Conformance checks shipped with the library: every task x protocol x N with the reference teams.

This is the benchmark's proof that every task is solvable within R_max and that the
scorer attributes each designed failure to its class.
"""

from __future__ import annotations

import asyncio

from silo.agents.scripted import scripted_team
from silo.episode import run_episode
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
    ep = asyncio.run(run_episode(inst, config, scripted_team(team, inst, proto)))
    return score_episode(ep)


def check_reference(task: str, protocol: str, n: int, team: str, seed: int = 0) -> list[str]:
    """Problems found (empty list when the team lands exactly in its designed outcome classes)."""
    s = run_reference(task, protocol, n, team, seed)
    problems = []
    allowed = set(EXPECTED[team])
    if n == 1 and team == "premature":
        allowed = {"correct"}  # one agent holds everything: submitting at once is optimal
    if team in ("oracle", "gossip"):
        if s.status != "complete":
            problems.append(f"{team} did not finish: status {s.status} after {s.rounds} rounds")
        if not all(a.held for a in s.agents):
            problems.append(f"{team}: agents not held: {[a.agent for a in s.agents if not a.held][:10]}")
    bad = [(a.agent, a.outcome) for a in s.agents if a.outcome not in allowed]
    if bad:
        problems.append(f"{team}: unexpected outcomes {bad[:10]} (allowed {sorted(allowed)})")
    return problems
