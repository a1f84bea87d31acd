"""III-28 PageRank step: 8N nodes, up to 16N directed edges split across agents; ranks after one iteration."""

from __future__ import annotations

import json
import math

from silo.tasks import register
from silo.tasks.base import as_number, split_even
from silo.tasks.common import ShuffleTask, draw_edges, ordered_partial_numbers
from silo.tasks.t24_bfs_distance import node_list, node_map_fingerprint

DAMPING_PCT = 85  # d = 0.85 as an integer percentage: the ranks are computed exactly


def pagerank_step(edges: list[list[int]], n_nodes: int) -> list[float]:
    """One PageRank iteration from the uniform vector, exact, rounded half-even to 6 dp; dangling mass dropped."""
    out_deg = [0] * n_nodes
    for u, _ in edges:
        out_deg[u] += 1
    lcm = math.lcm(1, *(d for d in out_deg if d))
    inflow = [0] * n_nodes  # sum over u -> v of 1/outdeg(u), in units of 1/lcm: exact integers
    for u, v in edges:
        inflow[v] += lcm // out_deg[u]
    # rank = (1 - d)/n + d/n * inflow/lcm = ((100 - D) lcm + D inflow) / (100 n lcm), D = 100 d
    den = 100 * n_nodes * lcm
    return [_round6((100 - DAMPING_PCT) * lcm + DAMPING_PCT * x, den) for x in inflow]


def _round6(num: int, den: int) -> float:
    """num/den rounded half-even to 6 decimals, exactly."""
    q, r = divmod(num * 10**6, den)
    if 2 * r > den or (2 * r == den and q % 2):
        q += 1
    return q / 10**6


@register
class PageRankStep(ShuffleTask):
    """r1[v] = (1 - d)/n + d * sum over edges u->v of r0[u]/outdeg(u), r0 = 1/n, d = 0.85, 6 dp.

    Decisions (as the reference): the rank of nodes without out-edges (dangling) is not
    redistributed, so the ranks may sum to less than 1; values are computed exactly and rounded
    half-even to 6 decimals; each value is accepted within 0.000001. Generation: 16N draws of
    u -> v, u != v, over nodes 0..8N-1, repeated directed edges dropped (up to 16N edges),
    shuffled and split evenly. Answer: the list of ranks in node order (an object keyed by node
    id is accepted). Partial credit: LCS / 8N. An out-degree needs all of a node's edges, which
    are spread over agents, so the oracle gathers raw edges. Evidence: a shard's raw edge
    endpoints, or the full answer (list, or node, rank pairs) once all shards are upstream.
    """

    id = "III-28"
    slug = "pagerank-step"
    name = "PageRank step"
    level = 3
    version = 1
    answer_format = ("a JSON list of numbers, one per node in node order, each rounded to 6 decimals, "
                     "e.g. [0.001234, 0.000188, ...]")
    tolerance = 0.000001
    oracle = "star"
    hint = ("Scatter-gather: every agent sends, for each of its edges u -> v, the share r0[u]/outdeg(u) to the "
            "agent owning v after out-degrees are summed across agents (all-to-all shuffle).")
    nodes_per_agent = 8
    draws_per_agent = 16

    def generate(self, n_agents, rng):
        n_nodes = self.nodes_per_agent * n_agents
        edges = draw_edges(rng, n_nodes, self.draws_per_agent * n_agents, directed=True)
        return split_even(edges, n_agents), {"n_nodes": n_nodes, "damping": DAMPING_PCT / 100}

    def solve(self, shards, params):
        ranks = pagerank_step([e for s in shards for e in s], params["n_nodes"])
        return [ranks] * len(shards)

    def describe(self, n_agents, params):
        n = params["n_nodes"]
        return (f"A directed graph has {n} nodes, numbered 0 to {n - 1}. Its edges are split among {n_agents} "
                "agents, each holding a list of edges [u, v] meaning u -> v. Every node starts with rank "
                f"1/{n}. Every agent must submit the ranks after exactly one PageRank update with damping "
                f"d = 0.85: new rank of v = (1 - d)/{n} + d * (sum over edges u -> v of rank(u) / outdeg(u)), "
                "where outdeg(u) counts all edges leaving u. The rank of a node with no outgoing edge is not "
                f"passed on to anyone. Submit a list of {n} numbers in node order, each rounded to 6 decimals.")

    def render_shard(self, data, agent, params):
        return "Your edges [u, v] (u -> v): " + json.dumps(data)

    def check(self, answer, truth):
        got = node_list(answer, len(truth))
        if got is None:
            return False, 0.0
        ok = len(got) == len(truth) and all(map(self._same, got, truth))
        return ok, 1.0 if ok else ordered_partial_numbers(got, truth, self.tolerance)

    def _same(self, a, t) -> bool:
        x = as_number(a)
        return x is not None and abs(x - t) <= self.tolerance + 1e-12

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return node_map_fingerprint(inst.truth[i])
        return None
