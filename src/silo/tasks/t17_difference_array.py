"""II-17 difference array: 15 ints in [1, 100] per agent; every agent submits d[p] = a[p] - a[p-1] for all p."""

from __future__ import annotations

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.common import ChainTask
from silo.tasks.t11_prefix_sum import check_list


@register
class DifferenceArray(ChainTask):
    """The full difference array of the global list, one entry per position.

    Decision: d[0] = a[0] (the textbook difference array, whose prefix sums give a back), so
    the answer has as many entries as the global list. Every agent submits the whole array;
    partial credit is the share of right positions. The oracle is a star of raw shards
    (everyone needs every entry). Raw evidence: the shard's numbers as an ordered run."""

    id = "II-17"
    slug = "difference-array"
    name = "difference array"
    level = 2
    version = 1
    answer_format = "a JSON list of integers: d[0], d[1], ..., d[L-1] in order, e.g. [17, 40, -12]"
    oracle = "star"
    hint = ("Neighbour exchange: each agent sends its last value to its right neighbour, computes the differences "
            "of its own positions, and the segments are concatenated along the chain of agents (chain topology).")
    items = 15
    low, high = 1, 100

    def solve(self, shards, params):
        a = [v for s in shards for v in s]
        d = [a[0], *(a[p] - a[p - 1] for p in range(1, len(a)))] if a else []
        return [d] * len(shards)

    def describe(self, n_agents, params):
        n = params["length"]
        return (f"{n_agents} agents each hold a consecutive slice of one global list a of {n} integers (positions "
                f"0..{n - 1}): agent 0 holds the first slice, agent 1 the next, and so on. Its difference array d "
                f"has d[0] = a[0] and d[p] = a[p] - a[p-1] for p = 1..{n - 1}. Every agent must submit the full "
                f"difference array ({n} integers, in order of p) as a JSON list.")

    def check(self, answer, truth):
        return check_list(answer, truth)

    def raw_fingerprint(self, inst, j, i):
        return Items(tuple(inst.shards[j].data), ordered=True)
