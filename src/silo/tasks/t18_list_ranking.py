"""II-18 list ranking: 8 nodes {id, next} per agent from one scattered linked list; node -> rank from head."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from silo.evidence import MIN_ITEMS, Fingerprint, Parsed, _norm
from silo.tasks import register
from silo.tasks.base import _canon, split_even
from silo.tasks.common import ChainTask, as_json

TAIL = -1


@dataclass(frozen=True)
class Pairs(Fingerprint):
    """Number pairs (a, b) each appearing as adjacent numbers a then b, in any order of pairs.

    Recognises mappings however they are laid out ({"5": 2}, "5 -> 2", [5, 2]) without
    requiring the pairs in one particular order."""

    pairs: tuple[tuple[int, int], ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.pairs) < MIN_ITEMS

    @cached_property  # the normalised pairs, made on first use (derived, not compared: repr and == are the fields')
    def _need(self) -> frozenset:
        return frozenset((_norm(a), _norm(b)) for a, b in self.pairs)

    def matches(self, p: Parsed) -> bool:
        if not self.pairs:
            return False
        need = self._need
        # k distinct pairs need k positions of adjacent numbers: k + 1 numbers (a chain's carry shows no shard)
        return len(need) < len(p.numbers) and need <= p.adjacent


def ranks(nodes: list[dict]) -> dict[str, int]:
    """Rank of every node (head = 0) by following next pointers from the node nobody points to."""
    nxt = {n["id"]: n["next"] for n in nodes}
    pointed = {v for v in nxt.values() if v != TAIL}
    heads = [k for k in nxt if k not in pointed]
    if len(heads) != 1:
        raise ValueError(f"expected exactly one list head, found {len(heads)}")
    out, node = {}, heads[0]
    while node != TAIL:
        if node in out:
            raise ValueError("the list has a cycle")
        out[node] = len(out)
        node = nxt[node]
    if len(out) != len(nxt):
        raise ValueError("some nodes are not on the list")
    return {str(k): out[k] for k in sorted(out)}


@register
class ListRanking(ChainTask):
    """Rank of every node of one linked list: its distance from the head (head = 0, tail = 8N - 1).

    Decisions: node ids are a random permutation of 0..8N-1; the tail's next is -1; nodes are
    shuffled before splitting, so an agent's nodes are scattered along the list. The answer is
    an object mapping every node id (as a string key) to its rank, keys in ascending id order;
    partial credit is the share of ids with the right rank (over max(len(answer), 8N)). Raw
    evidence: the shard's (id, next) pairs; the answer's (id, rank) pairs (Pairs, any order)."""

    id = "II-18"
    slug = "list-ranking"
    name = "list ranking"
    level = 2
    version = 1
    answer_format = 'a JSON object mapping every node id (as a string) to its rank, e.g. {"0": 5, "1": 0, "2": 9}'
    oracle = "star"
    hint = ("Pointer jumping / list walk: starting from the head, the agent holding each node passes the current "
            "rank to the agent holding the next node, which continues the walk (chain topology along the list).")
    items = 8

    def generate(self, n_agents, rng):
        size = self.items * n_agents
        order = rng.sample(range(size), size)
        nodes = [{"id": v, "next": order[k + 1] if k + 1 < size else TAIL} for k, v in enumerate(order)]
        rng.shuffle(nodes)
        return split_even(nodes, n_agents), {"n_nodes": size}

    def solve(self, shards, params):
        answer = ranks([n for s in shards for n in s])
        return [answer] * len(shards)

    def describe(self, n_agents, params):
        return (f"One singly linked list of {params['n_nodes']} nodes is scattered among {n_agents} agents; each "
                "agent holds some nodes, each given as {id, next}, where next is the id of the following node on the "
                "list, or -1 for the last node. The head is the node that no other node points to. The rank of a "
                "node is its distance from the head (the head has rank 0, the node after it rank 1, and so on). "
                "Every agent must submit the rank of every node of the list, as a JSON object mapping node id "
                "(string) to rank (integer).")

    def render_shard(self, data, agent, params):
        return f"Your nodes: {json.dumps(data)}"

    def check(self, answer, truth):
        got = as_json(answer, dict)
        if got is None or not truth:
            return False, 0.0
        got = _canon(got)
        right = sum(got.get(k) == v for k, v in truth.items())
        ok = right == len(truth) == len(got)
        return ok, 1.0 if ok else right / max(len(got), len(truth))

    def raw_fingerprint(self, inst, j, i):
        return Pairs(tuple((n["id"], n["next"]) for n in inst.shards[j].data))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return Pairs(tuple((int(k), v) for k, v in inst.truth[i].items()))
        return None
