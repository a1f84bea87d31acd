"""III-27 collaborative filtering: 3N user and 3N item vectors shuffled across agents; top-3 pairs by dot product."""

from __future__ import annotations

import json

import numpy as np

from silo.tasks import register
from silo.tasks.base import as_number
from silo.tasks.common import ShuffleTask, as_list, check_items

DIM = 5
TOP = 3
SCALE = 10_000  # vector entries have 4 decimals: exact integer arithmetic in units of 1e-4


def top_pairs(entities: list[dict], top: int = TOP) -> list[list]:
    """The `top` best [user, item, score] by exact dot product (desc), ties to lower user then item id."""
    users = [e for e in entities if e["kind"] == "user"]
    items = [e for e in entities if e["kind"] == "item"]
    if not users or not items:
        return []
    # exact: entries are integers below 10^4, so every dot product fits comfortably in int64
    uv = np.array([[round(x * SCALE) for x in e["vec"]] for e in users], dtype=np.int64)
    iv = np.array([[round(x * SCALE) for x in e["vec"]] for e in items], dtype=np.int64)
    dots = uv @ iv.T
    flat = np.sort(dots, axis=None)
    cut = flat[-min(top, flat.size)]  # every pair scoring at least the top-th best score is a candidate
    cand = [(-int(dots[a, b]), users[a]["id"], items[b]["id"]) for a, b in zip(*np.nonzero(dots >= cut), strict=True)]
    return [[u, i, round(-neg / SCALE**2, 4)] for neg, u, i in sorted(cand)[:top]]


@register
class CollabFiltering(ShuffleTask):
    """Top-3 (user, item, score) over all user-item pairs, score = dot product rounded to 4 dp.

    Decisions: vectors have 4 decimals; pairs are ranked by the exact dot product, ties to the
    lower user id, then the lower item id; scores are accepted within 0.0001; ids must be exact.
    Partial credit: LCS over the 3 triples / 3. A pair needs a user and an item that usually sit
    on different agents, so there is no local reduce: the oracle gathers raw vectors. Evidence:
    a shard's raw numbers (ids and vector entries), or the answer once all shards are upstream.
    """

    id = "III-27"
    slug = "collab-filtering"
    name = "collaborative filtering"
    level = 3
    version = 1
    answer_format = ("a JSON list of 3 [user_id, item_id, score] triples, best first, score rounded to 4 "
                     "decimals, e.g. [[4, 11, 2.1033], [0, 11, 1.9876], [4, 2, 1.9012]]")
    tolerance = 0.0001
    oracle = "star"
    hint = ("Block join: item vectors are shuffled to every agent holding users (all-to-all), each agent scores "
            "its local user-item pairs and keeps a top-3, and the local top-3 lists are merged.")
    per_kind = 3

    def generate(self, n_agents, rng):
        ents = [{"kind": kind, "id": k, "vec": [round(rng.random(), 4) for _ in range(DIM)]}
                for kind in ("user", "item") for k in range(self.per_kind * n_agents)]
        rng.shuffle(ents)
        size = 2 * self.per_kind
        return [ents[a * size:(a + 1) * size] for a in range(n_agents)], {"dim": DIM, "top": TOP}

    def solve(self, shards, params):
        best = top_pairs([e for s in shards for e in s])
        return [best] * len(shards)

    def describe(self, n_agents, params):
        m = self.per_kind * n_agents
        return (f"There are {m} users (ids 0 to {m - 1}) and {m} items (ids 0 to {m - 1}), each described by a "
                f"vector of {DIM} numbers. The {2 * m} vectors are split among {n_agents} agents in no particular "
                "order. The score of a (user, item) pair is the dot product of their vectors. Every agent must "
                f"submit the {TOP} highest-scoring pairs over all users and items, best first, as "
                f"[user_id, item_id, score] with the score rounded to 4 decimals (equal scores: lower user id "
                "first, then lower item id).")

    def render_shard(self, data, agent, params):
        return "\n".join(f"{e['kind']} {e['id']}: {json.dumps(e['vec'])}" for e in data)

    def check(self, answer, truth):
        return check_items(answer, truth, self._same)

    def _same(self, a, t) -> bool:
        if isinstance(a, dict):  # {"user": .., "item": .., "score": ..} is a readable triple too
            a = [a.get("user"), a.get("item"), a.get("score")]
        a = as_list(a)
        if a is None or len(a) != 3:
            return False
        u, i, s = (as_number(x) for x in a)
        return (u == t[0] and i == t[1] and s is not None
                and abs(s - t[2]) <= self.tolerance + 1e-9)
