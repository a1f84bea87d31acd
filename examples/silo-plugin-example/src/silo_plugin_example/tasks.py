"""EX-1 global sum: 10 integers in [0, 999] per agent; every agent submits the sum of all of them."""

from __future__ import annotations

from silo.api import TaskSpec, register
from silo.evidence import Value


@register
class GlobalSum(TaskSpec):
    """The sufficient statistic of any set of shards is its sum (a partial sum is evidence of its shards)."""

    id = "EX-1"  # PREFIX-<integer>: checked when registered
    slug = "global-sum"
    name = "global sum"
    level = 1
    version = 1
    answer_format = "a single integer"
    optimal_topology = "star"
    oracle = "star"
    items = 10

    def generate(self, n_agents, rng):
        return [[rng.randint(0, 999) for _ in range(self.items)] for _ in range(n_agents)], {}

    def solve(self, shards, params):
        total = sum(sum(s) for s in shards)
        return [total] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of integers. Every agent must submit the sum of all "
                "integers held by all agents.")

    def render_shard(self, data, agent, params):
        return f"Your integers: {data}"

    def stat_fingerprint(self, inst, agents, i):
        return Value(sum(sum(inst.shards[j].data) for j in agents))

    def partial(self, data, agent, params):
        return sum(data)

    def combine(self, partials, params):
        total = sum(partials)
        return [total] * len(partials)
