"""III-24 BFS distance: 8N nodes, up to 16N undirected edges split across agents; distances from node 0."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass

from silo.evidence import MIN_ITEMS, AnyOf, Fingerprint, Items, Parsed, _norm
from silo.tasks import register
from silo.tasks.base import as_int_list, split_even
from silo.tasks.common import ShuffleTask, as_json, as_list, check_int_list, draw_edges


def bfs_distances(edges: list[list[int]], n_nodes: int, source: int = 0) -> list[int]:
    """Hop distance of every node from `source` (-1 if unreachable)."""
    adj: list[list[int]] = [[] for _ in range(n_nodes)]
    for u, v in edges:
        adj[u].append(v)
        adj[v].append(u)
    dist = [-1] * n_nodes
    dist[source] = 0
    queue = deque([source])
    while queue:
        x = queue.popleft()
        for y in adj[x]:
            if dist[y] < 0:
                dist[y] = dist[x] + 1
                queue.append(y)
    return dist


@dataclass(frozen=True)
class Edges(Fingerprint):
    """Undirected edges [u, v], each appearing as adjacent numbers u, v or v, u, in any order of edges: a raw
    edge list however it is laid out (JSON pairs, "u-v" lines, a CSV or markdown table of two columns). Its
    endpoints as a multiset are inside any bundle of several shards' edges by chance (every node id appears
    in it a few times); adjacent pairs are not."""

    edges: tuple[tuple[int, int], ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.edges) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        if not self.edges:
            return False
        seen = p.adjacent  # (made once per content)
        return all((_norm(u), _norm(v)) in seen or (_norm(v), _norm(u)) in seen for u, v in self.edges)


def node_list(answer, n_nodes: int) -> list | None:
    """A node -> value answer as a list indexed by node: a list, or an object keyed by every node id."""
    answer = as_json(answer, object)  # a string is decoded (None if it is not JSON), anything else kept
    if isinstance(answer, dict):
        try:
            keyed = {int(str(k).strip()): v for k, v in answer.items()}
        except ValueError:
            return None
        if set(keyed) != set(range(n_nodes)):
            return None
        return [keyed[k] for k in range(n_nodes)]
    return as_list(answer)


def node_map_fingerprint(values: list) -> AnyOf:
    """A node -> value answer recognised as the list in order, or as node, value pairs in order."""
    pairs = tuple(x for k, v in enumerate(values) for x in (k, v))
    return AnyOf((Items(tuple(values), ordered=True), Items(pairs, ordered=True)))


@register
class BfsDistance(ShuffleTask):
    """Shortest-path hop distance from node 0 to every node of an undirected graph; -1 if unreachable.

    Generation: 16N draws of (u, v), u != v, over nodes 0..8N-1; repeats of an undirected edge
    are dropped (so up to 16N edges); the edges are shuffled and split evenly (last agent takes
    the remainder). Answer: a list whose element k is node k's distance (an object keyed by node
    id is accepted too). Partial credit: LCS with the true list / 8N. Evidence: a shard's raw
    edges, each as two adjacent numbers in either order (Edges: its endpoints as a multiset are inside any
    bundle of other shards by chance), or the whole answer (as a list or as node, distance pairs) once all
    are upstream.
    """

    id = "III-24"
    slug = "bfs-distance"
    name = "BFS distance"
    level = 3
    version = 1
    answer_format = ("a JSON list of integers, one per node in node order: element k is the distance "
                     "from node 0 to node k (-1 if unreachable), e.g. [0, 2, 1, -1, ...]")
    oracle = "star"
    hint = ("Level-synchronous BFS: in each round the agents exchange the current frontier, and every agent "
            "expands it through its own edges (all-to-all shuffle per level).")
    nodes_per_agent = 8
    draws_per_agent = 16

    def generate(self, n_agents, rng):
        n_nodes = self.nodes_per_agent * n_agents
        edges = draw_edges(rng, n_nodes, self.draws_per_agent * n_agents, directed=False)
        return split_even(edges, n_agents), {"n_nodes": n_nodes}

    def solve(self, shards, params):
        dist = bfs_distances([e for s in shards for e in s], params["n_nodes"])
        return [dist] * len(shards)

    def describe(self, n_agents, params):
        n = params["n_nodes"]
        return (f"An undirected graph has {n} nodes, numbered 0 to {n - 1}. Its edges are split among "
                f"{n_agents} agents, each holding a list of edges [u, v]. Every agent must submit, for every "
                "node, the length (number of edges) of a shortest path from node 0 to it: a list of "
                f"{n} integers in node order, 0 for node 0 itself and -1 for a node that cannot be reached.")

    def render_shard(self, data, agent, params):
        return "Your edges [u, v]: " + json.dumps(data)

    def check(self, answer, truth):
        return check_int_list(as_int_list(node_list(answer, len(truth))), truth)

    def raw_fingerprint(self, inst, j, i):
        return Edges(tuple((u, v) for u, v in inst.shards[j].data))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return node_map_fingerprint(inst.truth[i])
        return None
