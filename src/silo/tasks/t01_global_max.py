"""I-01 global maximum: 20 ints in [-1000N, 1000N] per agent (v1: [-1000, 1000]); every agent submits the max."""

from __future__ import annotations

from silo.evidence import Value
from silo.tasks import register
from silo.tasks.base import TaskSpec


@register
class GlobalMax(TaskSpec):
    """The sufficient statistic of any set of shards is its maximum.

    v2 (a deviation from the reference): values are drawn from [-1000N, 1000N] instead of [-1000, 1000].
    With 20N draws from a fixed range the maximum hits the bound 1000 once N is large (the constant
    1000 was right 37% of the time at N = 50, 60% at N = 100: docs/guessability.md); a range that
    grows with N keeps the chance that the maximum is the bound near 1% at every N.
    Inherent chance 1/N: whichever agent holds the maximum answers right from its own shard alone.
    The task is kept because that agent cannot know it holds the maximum without hearing from the
    others, and the other N - 1 agents are wrong alone. v1 (I-01@1) is the reference's generator.
    """

    id = "I-01"
    slug = "global-max"
    name = "global maximum"
    level = 1
    version = 2
    answer_format = "a single integer"
    hint = ("Reduce: each agent sends its local maximum to one agent, which takes the maximum and shares it "
            "with everyone (star topology).")
    items = 20

    def generate(self, n_agents, rng):
        bound = 1000 * n_agents
        return [[rng.randint(-bound, bound) for _ in range(self.items)] for _ in range(n_agents)], {}

    def inherent_chance(self, n_agents):
        return 1 / n_agents

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


@register
class GlobalMaxV1(GlobalMax):
    """I-01 v1, the reference's generator: 20 ints in [-1000, 1000] per agent (the bound is often the maximum)."""

    version = 1

    def generate(self, n_agents, rng):
        return [[rng.randint(-1000, 1000) for _ in range(self.items)] for _ in range(n_agents)], {}

    def inherent_chance(self, n_agents):
        return 1 / n_agents
