"""Topology-constrained P2P: messages may only cross the edges of a communication graph.

Topologies (undirected, connected, a pure function of the name and N so that runs, the scorer
and the scripted teams all see the same graph; the graph is recorded in Episode.world):
  ring        i -- i+1 (mod N)
  star        0 -- i for every i > 0 (agent 0 is the hub)
  tree<k>     fan-out k: the parent of i > 0 is (i-1)//k ("tree" means tree2; tree1 is a line)
  grid        rows = floor(sqrt(N)), cols = ceil(N/rows), agents placed row-major (the last row may
              be ragged): right and down neighbours; defined for every N (N = 2, 3 are lines)
  smallworld  Watts-Strogatz: ring lattice of degree 4 (2 each side), each lattice edge rewired with
              probability 0.2; random.Random seeded with the string "silo|smallworld|N|attempt" (str
              seeds are hashed with sha512: stable across runs), attempt 0, 1, ... until connected;
              N <= 5 is the complete graph
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

from silo.protocols.base import ActionError, bookkeeping_event, count_result, spec
from silo.protocols.messaging import P2P, RECEIVE

TOPOLOGY_HELP = "ring, star, grid, tree<k> (fan-out k >= 1, e.g. tree3; 'tree' = tree2), smallworld"
_TREE = re.compile(r"tree(\d*)")
SMALLWORLD_DEGREE, SMALLWORLD_REWIRE = 4, 0.2


class UnknownTopologyError(ValueError):
    """A topology name that is not defined."""


def canonical_topology(name: str) -> str:
    """Canonical topology name ('tree' -> 'tree2'); raise UnknownTopologyError with the valid names."""
    t = name.strip().lower()
    if t in ("ring", "star", "grid", "smallworld"):
        return t
    m = _TREE.fullmatch(t)
    if m and (not m.group(1) or int(m.group(1)) >= 1):
        return f"tree{int(m.group(1) or 2)}"
    raise UnknownTopologyError(f"unknown topology {name!r}; valid: {TOPOLOGY_HELP}")


@dataclass(frozen=True)
class Graph:
    """An undirected communication graph over agents 0..n-1, with shortest-path next hops."""

    topology: str
    n: int
    adj: tuple[tuple[int, ...], ...]
    _dist: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Every edge once, as (low id, high id), sorted."""
        return [(a, b) for a in range(self.n) for b in self.adj[a] if a < b]

    def neighbours(self, a: int) -> tuple[int, ...]:
        """Sorted neighbour ids of agent a."""
        return self.adj[a]

    def has_edge(self, a: int, b: int) -> bool:
        """True if a and b may message each other."""
        return b in self.adj[a]

    def distances(self, src: int) -> list[int]:
        """Hop distance from src to every agent (-1 if unreachable)."""
        if src not in self._dist:
            d = [-1] * self.n
            d[src], q = 0, deque([src])
            while q:
                u = q.popleft()
                for v in self.adj[u]:
                    if d[v] < 0:
                        d[v] = d[u] + 1
                        q.append(v)
            self._dist[src] = d
        return self._dist[src]

    def next_hop(self, cur: int, dst: int) -> int:
        """The neighbour of cur on a shortest path to dst (lowest id among ties)."""
        d = self.distances(dst)
        return min(self.adj[cur], key=lambda v: (d[v], v))

    def route(self, src: int, dst: int) -> list[int]:
        """The agents a message from src to dst visits, both ends included."""
        path = [src]
        while path[-1] != dst:
            path.append(self.next_hop(path[-1], dst))
        return path

    def connected(self) -> bool:
        """True if every agent can reach every other."""
        return self.n == 0 or min(self.distances(0)) >= 0

    def diameter(self) -> int:
        """Longest shortest path, in hops."""
        return max(max(self.distances(a)) for a in range(self.n)) if self.n else 0

    def to_dict(self) -> dict:
        """JSON form recorded in Episode.world['graph']."""
        return {"topology": self.topology, "n": self.n, "directed": False,
                "edges": [list(e) for e in self.edges], "diameter": self.diameter()}


def graph_from_world(world: dict) -> Graph | None:
    """The communication graph recorded in an episode's world, or None if messaging was unconstrained."""
    g = world.get("graph")
    if not g:
        return None
    return _from_edges(g["topology"], g["n"], [tuple(e) for e in g["edges"]])


def _from_edges(topology: str, n: int, edges) -> Graph:
    adj: list[set[int]] = [set() for _ in range(n)]
    for a, b in edges:
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    return Graph(topology, n, tuple(tuple(sorted(s)) for s in adj))


@lru_cache(maxsize=256)
def build_graph(topology: str, n: int) -> Graph:
    """The graph of a topology over n agents (deterministic)."""
    t = canonical_topology(topology)
    if n < 1:
        raise ValueError(f"a graph needs n >= 1, got {n}")
    if t == "ring":
        edges = [(i, (i + 1) % n) for i in range(n)]
    elif t == "star":
        edges = [(0, i) for i in range(1, n)]
    elif t.startswith("tree"):
        k = int(t[4:])
        edges = [((i - 1) // k, i) for i in range(1, n)]
    elif t == "grid":
        rows = max(1, math.isqrt(n))
        cols = math.ceil(n / rows)
        edges = [(i, i + 1) for i in range(n) if (i + 1) % cols and i + 1 < n]
        edges += [(i, i + cols) for i in range(n) if i + cols < n]
    else:
        edges = _smallworld_edges(n)
    return _from_edges(t, n, edges)


def _smallworld_edges(n: int) -> list[tuple[int, int]]:
    if n <= SMALLWORLD_DEGREE + 1:
        return [(a, b) for a in range(n) for b in range(a + 1, n)]
    for attempt in range(1000):
        rng = random.Random(f"silo|smallworld|{n}|{attempt}")
        adj = {i: set() for i in range(n)}
        lattice = [(i, (i + j) % n) for j in range(1, SMALLWORLD_DEGREE // 2 + 1) for i in range(n)]
        for a, b in lattice:
            adj[a].add(b)
            adj[b].add(a)
        for a, b in lattice:
            if rng.random() < SMALLWORLD_REWIRE:
                choices = [c for c in range(n) if c != a and c not in adj[a]]
                if choices:
                    c = rng.choice(choices)
                    adj[a].discard(b)
                    adj[b].discard(a)
                    adj[a].add(c)
                    adj[c].add(a)
        edges = [(a, b) for a in adj for b in adj[a] if a < b]
        if _from_edges("smallworld", n, edges).connected():
            return edges
    raise RuntimeError(f"no connected small-world graph for n={n}")  # pragma: no cover - never seen


class GraphP2P(P2P):
    """P2P whose messages may only go to neighbours in the communication graph."""

    topology = "ring"
    description = ("Send private messages, but only to your neighbours in a fixed communication graph "
                   "(list_neighbors); reach other agents by asking neighbours to pass messages on.")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.graph = build_graph(self.topology, self.n)

    def specs(self):
        send = spec("send_message",
                    "Send a text message to one of your neighbours in the communication graph (delivered next "
                    "round). Agents that are not your neighbours cannot be messaged directly: a neighbour must "
                    "pass the information on. See list_neighbors.",
                    target_id=("integer", "id of a neighbouring agent"), content=("string", "message text"))
        nb = spec("list_neighbors", f"List the ids of the agents you can message directly (graph: {self.topology}).")
        return [send, RECEIVE, nb]

    def do_send_message(self, rnd: int, agent: int, target_id: int, content: str):
        self.check_target(agent, target_id)
        if not self.graph.has_edge(agent, target_id):
            raise ActionError(f"agent {target_id} is not your neighbour in the {self.topology} graph; "
                              f"your neighbours: {list(self.graph.neighbours(agent))}")
        return self._send(rnd, agent, [target_id], content)

    def do_list_neighbors(self, rnd: int, agent: int):
        nb = list(self.graph.neighbours(agent))
        return nb, [bookkeeping_event(round=rnd, agent=agent, kind="action", action="list_neighbors",
                                      result=count_result(len(nb)))]

    def world_view(self):
        return {**super().world_view(), "graph": self.graph.to_dict()}
