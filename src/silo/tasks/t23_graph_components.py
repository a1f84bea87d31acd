"""III-23 graph components: 10N nodes, 20N random undirected edges split across agents; count the components."""

from __future__ import annotations

import json
from dataclasses import dataclass

from silo.evidence import AllOf, AnyOf, Fingerprint, Items, Parsed
from silo.tasks import register
from silo.tasks.base import as_number, covering_sets
from silo.tasks.common import ShuffleTask, check_value
from silo.tasks.t24_bfs_distance import Edges

TOUCHED_MIN = 8  # fewer touched nodes than this are inside most contents of a graph with a small largest group


def spanning_forest(edges: list[list[int]], n_nodes: int) -> tuple[list[list[int]], int]:
    """(edges of a spanning forest, in input order; number of components over all n_nodes nodes)."""
    parent = list(range(n_nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps trees shallow
            x = parent[x]
        return x

    forest = []
    for u, v in edges:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[ru] = rv
            forest.append([u, v])
    return forest, n_nodes - len(forest)


@register
class GraphComponents(ShuffleTask):
    """Number of connected components of an undirected graph on nodes 0..10N-1 (isolated nodes count).

    Generation (v2, a deviation from the reference): a number of components C is drawn uniformly in
    1..8N; the 10N nodes are split into C random non-empty groups (shuffled nodes, the first C seed
    the groups, every other node joins a uniformly random group); every group gets a random
    spanning tree (each edge once, so an agent rarely holds all of a small group's edges), and
    the remaining edges of the 20N join two random nodes of the largest group (duplicates
    possible, harmless); all edges are shuffled, 20 per agent. In v1 (III-23@1, the reference:
    20N uniform random edges) the graph
    was nearly always one giant component plus a few isolated nodes, and the most common count
    was right 72% of the time at N = 2 (13-39% up to N = 100) (docs/guessability.md). Oracle partial: the agent's
    spanning forest (a sufficient statistic
    for connectivity). Evidence of a set S of shards (below the whole): its spanning forest's edges
    (each as adjacent numbers, either orientation: true of raw edges and of the partial), its
    components (2+ nodes) each listed in order, or, for 8+ touched nodes, every node touched by an
    edge of S in content that neither lists most other node ids nor every node id (a node listing
    shows no edges; a handful of nodes of the largest group is in most contents). Raw: each edge as
    adjacent numbers (Edges). Of all shards: the count.
    """

    id = "III-23"
    slug = "graph-components"
    name = "graph components"
    level = 3
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Union-find: every agent reduces its edges to a spanning forest, the forests are merged by "
            "exchanging them (all-to-all shuffle), and the merged components are counted.")
    nodes_per_agent = 10
    edges_per_agent = 20

    def generate(self, n_agents, rng):
        n_nodes = self.nodes_per_agent * n_agents
        nodes = rng.sample(range(n_nodes), n_nodes)
        count = rng.randint(1, 8 * n_agents)
        groups = [[x] for x in nodes[:count]]
        for x in nodes[count:]:
            rng.choice(groups).append(x)
        edges = [[g[k], rng.choice(g[:k])] for g in groups for k in range(1, len(g))]  # spanning trees
        big = max(groups, key=len)  # the other edges all join nodes of the largest group
        while len(big) > 1 and len(edges) < self.edges_per_agent * n_agents:
            edges.append(rng.sample(big, 2))
        rng.shuffle(edges)
        k = self.edges_per_agent
        return [edges[a * k:(a + 1) * k] for a in range(n_agents)], {"n_nodes": n_nodes}

    def solve(self, shards, params):
        _, count = spanning_forest([e for s in shards for e in s], params["n_nodes"])
        return [count] * len(shards)

    def describe(self, n_agents, params):
        n = params["n_nodes"]
        return (f"An undirected graph has {n} nodes, numbered 0 to {n - 1}; every node exists even if no "
                f"edge touches it. Its edges are split among {n_agents} agents, each holding a list of "
                "edges [u, v]. Every agent must submit the number of connected components of the whole "
                "graph (a node without edges is a component on its own).")

    def render_shard(self, data, agent, params):
        return "Your edges [u, v]: " + json.dumps(data)

    def check(self, answer, truth):
        return check_value(as_number(answer), truth)

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return super().stat_fingerprint(inst, agents, i)
        edges = [e for j in agents for e in inst.shards[j].data]
        nodes = sorted({x for e in edges for x in e})
        # the spanning forest's edges (any orientation, any order), the partition so far as each of its
        # components (2+ nodes) listed in order, or, for 8+ nodes, the touched nodes without most other node
        # ids and in content that does not list every node id (naming every node shows no edges)
        forest = Edges(tuple(tuple(e) for e in spanning_forest(edges, inst.params["n_nodes"])[0]))
        parts: list[Fingerprint] = [forest]
        groups = [Items(g, ordered=True) for g in _components(edges)]
        if len(groups) >= 2:
            parts.append(AllOf(tuple(groups)))
        if len(nodes) >= TOUCHED_MIN:
            parts.append(NotEvery(Items(tuple(nodes), domain=(0, inst.params["n_nodes"] - 1)), inst.params["n_nodes"]))
        return AnyOf(tuple(parts))

    def raw_fingerprint(self, inst, j, i):
        # each edge as adjacent numbers: the endpoints as a multiset are inside any bundle of several shards
        # (most edges join the few nodes of the largest group)
        return Edges(tuple(tuple(e) for e in inst.shards[j].data))

    def stat_sets(self, inst, content, within, i):
        return covering_sets(content, within, {j: {x for e in inst.shards[j].data for x in e} for j in within})

    def partial(self, data, agent, params):
        return spanning_forest(data, params["n_nodes"])[0]

    def combine(self, partials, params):
        _, count = spanning_forest([e for p in partials for e in p], params["n_nodes"])
        return [count] * len(partials)


@register
class GraphComponentsV1(GraphComponents):
    """III-23 v1, the reference's generator: 20N uniform random edges (u != v) over 10N nodes."""

    version = 1

    def generate(self, n_agents, rng):
        n_nodes = self.nodes_per_agent * n_agents
        edges = []
        while len(edges) < self.edges_per_agent * n_agents:
            u, v = rng.randrange(n_nodes), rng.randrange(n_nodes)
            if u != v:
                edges.append([u, v])
        rng.shuffle(edges)
        k = self.edges_per_agent
        return [edges[a * k:(a + 1) * k] for a in range(n_agents)], {"n_nodes": n_nodes}


@dataclass(frozen=True)
class NotEvery(Fingerprint):
    """`part`, in content that does not list every id 0..n-1 (a listing of every node id covers any set of
    touched nodes that is most of the graph)."""

    part: Fingerprint
    n: int

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return self.part.weak

    def matches(self, p: Parsed) -> bool:
        return self.part.matches(p) and not all(x in p.counts for x in range(self.n))


def _components(edges) -> list[tuple[int, ...]]:
    """Components with 2+ nodes of a set of edges, each sorted (evidence of a partition so far)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        parent[find(u)] = find(v)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) >= 2)
