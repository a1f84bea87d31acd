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

    The oracle is a star of raw shards. A shard's distinct values are a sufficient statistic,
    but in a sorted array of 15N values from 1..50 a shard often holds only one or two distinct
    values: too weak a fingerprint to recognise, so the raw shard (its full multiset of 15
    numbers) is what is sent and recognised. Note: from N of about 10 up the answer is almost
    always 1..50, so guessed answers can be "lucky"; agents answering from their own shard are not.
    Partial credit: share of right positions."""

    id = "II-19"
    slug = "merge-neighbours"
    name = "merge neighbours"
    level = 2
    version = 1
    answer_format = "a JSON list of integers in ascending order, each distinct value once, e.g. [1, 2, 4, 7]"
    oracle = "star"
    hint = ("Neighbour merge: each agent removes duplicates inside its slice and compares its first value with the "
            "last value of its left neighbour, dropping it if equal; the de-duplicated slices are concatenated "
            "along the chain of agents (chain topology).")
    items = 15
    low, high = 1, 50
    span_tail = " (sorted)"

    def generate(self, n_agents, rng):
        values = sorted(self.random_values(n_agents, rng))
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
