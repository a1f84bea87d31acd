"""III-22 median: 25 ints in [1, 1000] per agent; every agent submits sorted(all)[len // 2]."""

from __future__ import annotations

import json

from silo.tasks import register
from silo.tasks.base import as_number
from silo.tasks.common import ShuffleTask, check_value, window_draws


@register
class Median(ShuffleTask):
    """The element at 0-based position len // 2 of all integers sorted ascending (duplicates kept).

    Decision (as the reference): for an even total this is the upper of the two middle values,
    never their average. No small sufficient statistic exists, so the oracle gathers raw shards;
    evidence is a shard's raw multiset of 25 numbers, or the median itself once all shards are upstream.
    v2 (a deviation from the reference): each agent draws its 25 integers uniformly from its own random
    window of [1, 1000] (tasks.common.window_draws). With every value uniform on [1, 1000] (v1, III-22@1)
    the own shard's median was the global one 13% of the time at N = 2 (docs/guessability.md).
    """

    id = "III-22"
    slug = "median"
    name = "median"
    level = 3
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Distributed selection: agents exchange their values (or sorted samples and counts around "
            "candidate pivots) until the element at position len // 2 is found (all-to-all shuffle).")
    items = 25

    def generate(self, n_agents, rng):
        return [window_draws(rng, 1, 1000, self.items) for _ in range(n_agents)], {}

    def solve(self, shards, params):
        values = sorted(v for s in shards for v in s)
        return [values[len(values) // 2]] * len(shards)

    def describe(self, n_agents, params):
        total = self.items * n_agents
        return (f"{n_agents} agents each hold {self.items} integers. Sort all {total} integers ascending "
                f"(duplicates kept) and take the one at 0-based position {total // 2} (= total count // 2; "
                "for an even count this is the upper middle value, not an average). Every agent must "
                "submit that integer.")

    def render_shard(self, data, agent, params):
        return "Your integers: " + json.dumps(data)

    def check(self, answer, truth):
        return check_value(as_number(answer), truth)


@register
class MedianV1(Median):
    """III-22 v1, the reference's generator: 25 ints uniform in [1, 1000] per agent."""

    version = 1

    def generate(self, n_agents, rng):
        return [[rng.randint(1, 1000) for _ in range(self.items)] for _ in range(n_agents)], {}
