"""II-19 merge neighbours: 15 ints per agent from one globally sorted array of values in [1, 50]; distinct values."""

from __future__ import annotations

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.base import split_even
from silo.tasks.common import ChainTask
from silo.tasks.t11_prefix_sum import check_list


@register
class MergeNeighbours(ChainTask):
    """The globally de-duplicated sorted array: every distinct value, ascending.

    v2 (a deviation from the reference): values are drawn from [1, 10N] instead of [1, 50]. In v1
    (II-19@1, the reference) 15N sorted values from 1..50 cover all 50 values once N >= 20, so the
    constant [1, 2, ..., 50] was right 92% of the time at N = 20 and always at 50 and 100
    (docs/guessability.md). A range of 10N values (50 at N = 5, as the reference) keeps 1.5 draws
    per value at every N: about a fifth of the values are missing, and which ones varies, while
    equal values still run across shard boundaries.
    The oracle is a star of raw shards. A shard's distinct values are a sufficient statistic,
    but a sorted shard often holds few distinct values: too weak a fingerprint to recognise,
    so the raw shard (its full multiset of 15 numbers) is what is sent and recognised.
    Partial credit: share of right positions."""

    id = "II-19"
    slug = "merge-neighbours"
    name = "merge neighbours"
    level = 2
    version = 2
    answer_format = "a JSON list of integers in ascending order, each distinct value once, e.g. [1, 2, 4, 7]"
    oracle = "star"
    hint = ("Neighbour merge: each agent removes duplicates inside its slice and compares its first value with the "
            "last value of its left neighbour, dropping it if equal; the de-duplicated slices are concatenated "
            "along the chain of agents (chain topology).")
    items = 15
    low, high = 1, 50
    span_tail = " (sorted)"

    def generate(self, n_agents, rng):
        values = sorted(rng.randint(1, 10 * n_agents) for _ in range(self.items * n_agents))
        return split_even(values, n_agents), {"items_per_agent": self.items}

    def solve(self, shards, params):
        return [sorted({v for s in shards for v in s})] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a consecutive slice of one global list of integers that is sorted in "
                "ascending order: agent 0 holds the first slice, agent 1 the next, and so on. Values repeat. Every "
                "agent must submit the global list with duplicates removed: each distinct value exactly once, in "
                "ascending order, as a JSON list of integers.")

    def check(self, answer, truth):
        return check_list(answer, truth)

    def raw_fingerprint(self, inst, j, i):
        return Items(tuple(inst.shards[j].data))


@register
class MergeNeighboursV1(MergeNeighbours):
    """II-19 v1, the reference's generator: 15N sorted values from [1, 50] (all 50 values once N >= 20)."""

    version = 1

    def generate(self, n_agents, rng):
        values = sorted(self.random_values(n_agents, rng))
        return split_even(values, n_agents), {"items_per_agent": self.items}
