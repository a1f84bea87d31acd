"""I-10 standard deviation: 30 floats U(0, 100) per agent; every agent submits the population std, 2 dp."""

from __future__ import annotations

import math

from silo.evidence import AllOf, AnyOf, Value
from silo.tasks import register
from silo.tasks.common import DecimalsReduce
from silo.tasks.sums import total_sets


@register
class StdDev(DecimalsReduce):
    """Population standard deviation (divide by the count) of every agent's numbers.

    Decisions: values are drawn U(0, 100) and rounded to 2 dp (shown exactly); the truth
    is sqrt(sumsq / n - (sum / n)^2) rounded to 2 dp, with the 0.01 tolerance.
    Sufficient statistic of a set of shards: (count, sum, sum of squares); the partial
    carries it (sum to 2 dp, sum of squares to 4 dp, both exact for 2-dp values).
    Evidence guards: a set is recognised by its sum and sum of squares together (within
    0.01), or by its mean and its population std or variance together (within 0.005, as
    rounded to 2 dp): first and second moment both, never one number alone; covering
    every shard, the answer itself.
    A set of shards is also found from the content (stat_sets): the 2+ of the author's shards whose total
    and number of values both appear (an unnamed "combined summary"; its sum of squares must match too).
    """

    id = "I-10"
    slug = "std-dev"
    name = "standard deviation"
    level = 1
    version = 1
    answer_format = "a single number rounded to 2 decimal places, e.g. 28.41"
    tolerance = 0.01
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent sends the count, sum and sum of squares of its numbers to one agent, which "
            "computes the population standard deviation and shares it with everyone (star topology).")
    items = 30

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of decimal numbers. Every agent must submit the "
                "population standard deviation (dividing by the number of values, not by one less) of all "
                "numbers held by all agents, rounded to 2 decimal places.")

    def partial(self, data, agent, params):
        return {"count": len(data), "sum": round(math.fsum(data), 2),
                "sumsq": round(math.fsum(v * v for v in data), 4)}

    def combine(self, partials, params):
        n = sum(p["count"] for p in partials)
        mean = math.fsum(p["sum"] for p in partials) / n
        var = math.fsum(p["sumsq"] for p in partials) / n - mean * mean
        std = round(math.sqrt(max(var, 0.0)), 2)
        return [std] * len(partials)

    def stat_fingerprint(self, inst, agents, i):
        values = [v for j in agents for v in inst.shards[j].data]
        n = len(values)
        total, sumsq = math.fsum(values), math.fsum(v * v for v in values)
        mean = total / n
        var = max(sumsq / n - mean * mean, 0.0)
        alts = [AllOf((Value(round(total, 2), 0.01), Value(round(sumsq, 4), 0.01))),
                AllOf((Value(mean, 0.005), Value(math.sqrt(var), 0.005))),
                AllOf((Value(mean, 0.005), Value(var, 0.005)))]
        if agents >= self.depends_on(inst, i):
            alts.append(Value(math.sqrt(var), 0.005))
        return AnyOf(tuple(a for a in alts if not a.weak))

    def stat_sets(self, inst, content, within, i):
        return total_sets(inst, content, within)
