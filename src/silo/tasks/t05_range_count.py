"""I-05 range count: 30 ints in [0, 1000] per agent; every agent submits how many lie in [100, 500]."""

from __future__ import annotations

from silo.evidence_claims import Near
from silo.tasks import register
from silo.tasks.t02_word_frequency import CountsReduce


@register
class RangeCount(CountsReduce):
    """Global number of integers inside the inclusive range [lo, hi] = [100, 500].

    Star partial: the shard's bucket counts (below lo, inside, above hi), an ordered run of
    3 counts summing to the shard size. The inside count alone is a sufficient statistic
    but a lone number near 12 proves nothing in free text; the 3-bucket histogram is a
    reduce of the same size class that evidence can recognise.
    Raw evidence: the multiset of the shard's 30 integers.
    v2 (a deviation from the reference): each agent draws its share of values inside [lo, hi]
    uniformly in [0.1, 0.9]; each value is then inside (uniform on [lo, hi]) with that probability,
    else uniform below lo or above hi (either side with probability 1/2). With every value uniform on [0, 1000]
    (v1, I-05@1, the reference) the count was concentrated enough for the most common count to be right
    10% of the time at N = 2, the budget's edge (docs/guessability.md); per-shard windows spread it at every N.
    """

    id = "I-05"
    slug = "range-count"
    name = "range count"
    level = 1
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent counts its integers inside the range and sends the count to one agent, which "
            "adds the counts and shares the total with everyone (star topology).")
    labels = ("below", "inside", "above")
    items = 30
    lo, hi = 100, 500

    def generate(self, n_agents, rng):
        shards = []
        for _ in range(n_agents):
            inside = rng.uniform(0.1, 0.9)  # this shard's share of values inside [lo, hi]
            shards.append([rng.randint(self.lo, self.hi) if rng.random() < inside else
                           rng.choice((rng.randint(0, self.lo - 1), rng.randint(self.hi + 1, 1000)))
                           for _ in range(self.items)])
        return shards, {"lo": self.lo, "hi": self.hi}

    def counts(self, data, params):
        lo, hi = params["lo"], params["hi"]
        inside = sum(lo <= v <= hi for v in data)
        below = sum(v < lo for v in data)
        return [below, inside, len(data) - inside - below]

    def from_counts(self, totals, params):
        return totals[1]

    def scalar_fingerprint(self, totals, params):
        # the inside count near words that say what it counts ("in range: 12", "a running count of 24")
        return Near(("range", "inside", "between", "count"), totals[1],
                    public=(params["lo"], params["hi"], self.items))

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of integers. Every agent must submit how many integers, "
                f"over the lists of all agents, lie in the range from {params['lo']} to {params['hi']} "
                "inclusive (count repeated values every time they occur).")

    def render_shard(self, data, agent, params):
        return ", ".join(map(str, data))


@register
class RangeCountV1(RangeCount):
    """I-05 v1, the reference's generator: 30 ints uniform in [0, 1000] per agent."""

    version = 1

    def generate(self, n_agents, rng):
        shards = [[rng.randint(0, 1000) for _ in range(self.items)] for _ in range(n_agents)]
        return shards, {"lo": self.lo, "hi": self.hi}
