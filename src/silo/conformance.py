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



def rounds_needed(task: str, protocol: str, n: int, action_budget: int = 10) -> int:
    """Rounds the slowest of the oracle and gossip teams needs on the cell, by the design of its strategy.

    Exact at the default budget on the boundaries checked in tests/test_conformance.py (it assumes a budget of
    5 or more, so that an agent's polling fits in one round):
    - a chain (oracle "chain", no graph): the carry passes agent to agent, a round each: N;
    - a flood over a graph: a hop a round, so diameter + 1, except the star, whose hub floods its own payload
      to N - 1 leaves, then relays the N - 2 others to each leaf (bundles, hub_bundles): its actions / budget + 1;
    - the star's root over p2p and broadcast: round 1 has nothing to read, then one receive and N - 1 sends
      (over broadcast only a segmented answer is N - 1 broadcasts), and the leaves' round: 2 + N / budget;
      gossip over p2p sends N - 1 shards, then reads them the round after: (N - 1) / budget + 1;
    - over sfs and the blackboard the root lists its box, reads N - 1 partials, lists `all`, then writes the
      answer (or N - 1 answers on a segmented task): 2 + (N + 2) / budget (2 + 2N / budget); gossip writes,
      then reads N - 1 shards from round 2 on (with check_reach and the submit): 1 + (N + 3) / budget."""
    from silo.agents.channel import protocol_capabilities, transport
    from silo.protocols.graph import build_graph

    spec = get_task(task)
    if n == 1:
        return 1
    caps, topology = protocol_capabilities(protocol, n)

    def up(actions: int) -> int:  # rounds of the budget those actions fill
        return -(-actions // action_budget)

    if topology is not None:
        graph = build_graph(topology, n)
        if graph.topology != "star" or n < 3:
            return graph.diameter() + 1
        return max(up((n - 1) * (1 + hub_bundles(spec, n)) + 1) + 1, graph.diameter() + 1)
    if spec.oracle == "chain":
        return n
    segmented = spec.answer_kind != "global"
    way = transport(caps)
    if way in ("sfs", "blackboard"):
        root = 2 + up(2 * n) if spec.oracle == "star" and segmented else 2 + up(n + 2)
        return max(root, 1 + up(n + 3))
    if way == "broadcast":
        return 2 + up(n) if segmented else 3
    return max(2 + up(n), up(n - 1) + 1)


def hub_bundles(spec, n: int) -> int:
    """Messages per leaf, at most, when the p2p:star hub relays the N - 2 other shards (gossip's payloads, the
    largest) to it: bodies of the longest shard's length, as many per bundle as fit in MAX_BUNDLE_CHARS."""
    import json

    from silo.agents.channel import MAX_BUNDLE_CHARS

    inst = spec.make_instance(n, 0)
    body = max(len(json.dumps({"from": n, "to": None, "kind": "shard", "data": s.data, "seq": n},
                              separators=(",", ":"))) for s in inst.shards)
    per_bundle = max(1, MAX_BUNDLE_CHARS // (body + 1))
    return -(-(n - 2) // per_bundle)


def out_of_reach(task: str, protocol: str, n: int, max_rounds: int = 100, action_budget: int = 10) -> str | None:
    """Why the reference teams cannot finish the cell within max_rounds by design (rounds_needed), or None."""
    need = rounds_needed(task, protocol, n, action_budget)
    return f"needs {need} rounds > {max_rounds}" if need > max_rounds else None
