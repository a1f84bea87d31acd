"""II-12 moving average: 15 ints in [1, 100] per agent; every agent submits all centred window-3 averages."""

from __future__ import annotations

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.common import ChainTask
from silo.tasks.t11_prefix_sum import check_list


@register
class MovingAverage(ChainTask):
    """Averages (a[p-1] + a[p] + a[p+1]) / 3 for global positions p = 1..L-2, rounded to 2 dp.

    A sum of three ints divided by 3 never ends in an exact half cent, so rounding is
    unambiguous. Every agent submits the whole list (a global answer), each element checked
    within 0.01; partial credit is the share of right positions. The oracle is a star of raw
    shards (every agent needs every window, so no smaller statistic exists); the reference's
    optimal topology is a chain of neighbour exchanges. Raw evidence: the shard's 15 numbers
    as a contiguous run in order (small ints, so a multiset would match too easily)."""

    id = "II-12"
    slug = "moving-average"
    name = "moving average"
    level = 2
    version = 1
    answer_format = ("a JSON list of numbers rounded to 2 decimals: the window averages for global positions "
                     "1, 2, ..., L-2 in order, e.g. [40.33, 51.0, 47.67]")
    tolerance = 0.01
    oracle = "star"
    hint = ("Neighbour exchange: each agent sends its first value to its left neighbour and its last value to its "
            "right neighbour, computes the averages of its own positions, and the segments are concatenated along "
            "the chain of agents (chain topology).")
    items = 15
    low, high = 1, 100

    def solve(self, shards, params):
        a = [v for s in shards for v in s]
        avg = [round((a[p - 1] + a[p] + a[p + 1]) / 3, 2) for p in range(1, len(a) - 1)]
        return [avg] * len(shards)

    def describe(self, n_agents, params):
        n = params["length"]
        return (f"{n_agents} agents each hold a consecutive slice of one global list a of {n} integers (positions "
                f"0..{n - 1}): agent 0 holds the first slice, agent 1 the next, and so on. For every position p = 1, "
                f"2, ..., {n - 2}, the centred moving average is (a[p-1] + a[p] + a[p+1]) / 3, rounded to 2 decimals. "
                f"Every agent must submit the full list of these {n - 2} averages, in order of p, as a JSON list "
                "of numbers.")

    def check(self, answer, truth):
        return check_list(answer, truth, self.tolerance)

    def raw_fingerprint(self, inst, j, i):
        return Items(tuple(inst.shards[j].data), ordered=True)
