"""II-16 trapping rain: 10 heights in [0, 10] per agent with a forced valley; total trapped water."""

from __future__ import annotations

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.common import ChainTask


def trapped(heights: list[int]) -> int:
    """Water trapped above a height profile: sum of min(max left, max right) - h, textbook two passes."""
    left, best = [], 0
    for h in heights:
        best = max(best, h)
        left.append(best)
    total, best = 0, 0
    for k in range(len(heights) - 1, -1, -1):
        best = max(best, heights[k])
        total += min(left[k], best) - heights[k]
    return total


@register
class TrappingRain(ChainTask):
    """Total water trapped by the global height profile (bars of width 1, nothing held beyond the ends).

    Decision on "valleys forced": each shard gets one valley at a random interior index k
    (1..8): h[k] = 0 with both neighbours raised to a random height in [5, 10], so every
    shard traps at least 5 units. The oracle is a star of raw shards (water at a position
    depends on maxima on both sides, so no fixed-size statistic of a shard suffices). Raw
    evidence: the 10 heights as an ordered run (small ints, so a multiset would match too easily)."""

    id = "II-16"
    slug = "trapping-rain"
    name = "trapping rain"
    level = 2
    version = 1
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Two sweeps: the running maximum from the left is passed along the chain of agents in one direction "
            "and the running maximum from the right in the other; each agent then computes the water above its own "
            "bars and the partial totals are summed along the chain (chain topology).")
    items = 10
    low, high = 0, 10
    span_head = "Heights of bars"

    def generate(self, n_agents, rng):
        shards = []
        for _ in range(n_agents):
            h = [rng.randint(self.low, self.high) for _ in range(self.items)]
            k = rng.randint(1, self.items - 2)
            h[k - 1], h[k], h[k + 1] = rng.randint(5, self.high), 0, rng.randint(5, self.high)
            shards.append(h)
        return shards, {"items_per_agent": self.items}

    def solve(self, shards, params):
        return [trapped([h for s in shards for h in s])] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a consecutive slice of one global list of bar heights (bars of width "
                "1 standing side by side): agent 0 holds the first slice, agent 1 the next, and so on. Rain fills "
                "every dip: the water above a bar reaches the lower of the highest bar to its left and the highest "
                "bar to its right (including itself), and water flows away beyond both ends. Every agent must submit "
                "the total units of water trapped over the whole global profile, as an integer.")

    def raw_fingerprint(self, inst, j, i):
        return Items(tuple(inst.shards[j].data), ordered=True)
