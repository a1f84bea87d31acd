"""I-01 global maximum: 20 ints in [-1000, 1000] per agent; every agent submits the max."""

from __future__ import annotations

from silo.evidence import Value
from silo.tasks import register
from silo.tasks.base import TaskSpec


@register
class GlobalMax(TaskSpec):
    """The sufficient statistic of any set of shards is its maximum."""

    id = "I-01"
    slug = "global-max"
    name = "global maximum"
    level = 1
    version = 1
    answer_format = "a single integer"
    hint = ("Reduce: each agent sends its local maximum to one agent, which takes the maximum and shares it "
            "with everyone (star topology).")
    items = 20

    def generate(self, n_agents, rng):
        return [[rng.randint(-1000, 1000) for _ in range(self.items)] for _ in range(n_agents)], {}

    def solve(self, shards, params):
        best = max(max(s) for s in shards)
        return [best] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of integers. Every agent must submit the "
                "maximum over all integers held by all agents.")

    def stat_fingerprint(self, inst, agents, i):
        return Value(max(max(inst.shards[j].data) for j in agents))

    def partial(self, data, agent, params):
        return max(data)

    def combine(self, partials, params):
        best = max(partials)
        return [best] * len(partials)
