"""I-07 average: 25 floats U(0, 100) per agent; every agent submits the global mean, 2 dp."""

from __future__ import annotations

import math

from silo.evidence import AnyOf, Value
from silo.tasks import register
from silo.tasks.common import DecimalsReduce
from silo.tasks.sums import total_sets


@register
class Average(DecimalsReduce):
    """Global arithmetic mean of every agent's numbers.

    Decisions: values are drawn U(0, 100) and rounded to 2 dp, so the prompt shows them
    exactly; the truth is round(fsum / count, 2) (Python rounding; the 0.01 tolerance
    absorbs any half-way disagreement).
    Sufficient statistic of a set of shards: (sum, count). Every shard has the same size,
    so the shard's mean is sufficient too.
    Evidence guards: a set's statistic is recognised as its sum (within 0.01) or its mean
    (within 0.005, i.e. as rounded to 2 dp); both are non-integers in the hundreds or tens,
    so a foreign 2-dp number hits one by chance with probability about 1e-4.
    A set of shards is also found from the content (stat_sets): the 2+ of the author's shards whose total
    and number of values both appear (an unnamed "combined summary" of some of the shards it holds).
    """

    id = "I-07"
    slug = "average"
    name = "average"
    level = 1
    version = 1
    answer_format = "a single number rounded to 2 decimal places, e.g. 49.37"
    tolerance = 0.01
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent sends the sum and count of its numbers to one agent, which divides the "
            "total sum by the total count and shares the mean with everyone (star topology).")
    items = 25

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of decimal numbers. Every agent must submit the "
                "arithmetic mean of all numbers held by all agents (every number counts once), "
                "rounded to 2 decimal places.")

    def partial(self, data, agent, params):
        return {"sum": round(math.fsum(data), 2), "count": len(data)}

    def combine(self, partials, params):
        total = math.fsum(p["sum"] for p in partials)
        count = sum(p["count"] for p in partials)
        mean = round(total / count, 2)
        return [mean] * len(partials)

    def stat_fingerprint(self, inst, agents, i):
        values = [v for j in agents for v in inst.shards[j].data]
        total = math.fsum(values)
        parts = (Value(round(total, 2), 0.01), Value(total / len(values), 0.005))
        return AnyOf(tuple(p for p in parts if not p.weak)) if any(not p.weak for p in parts) else None

    def stat_sets(self, inst, content, within, i):
        return total_sets(inst, content, within)
