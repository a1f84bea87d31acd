"""III-26 global distinct: 30 ints from range(15N) per agent; every agent submits the number of distinct values."""

from __future__ import annotations

import json

from silo.evidence import AnyOf, Items
from silo.tasks import register
from silo.tasks.base import as_number, covering_sets
from silo.tasks.common import ShuffleTask, check_value, subset_draws


@register
class GlobalDistinct(ShuffleTask):
    """Count of distinct values over all agents' integers (same data shape as I-08, scored as level III).

    v2 (a deviation from the reference, as I-08 v2): each agent draws its 30 integers from its own
    random subset of range(15N), of random size in 5..30 (tasks.common.subset_draws); with uniform
    draws (v1, III-26@1) the
    most common count was right 26% of the time at N = 2, 17% at 5 and 12% at 10 (docs/guessability.md).
    Oracle partial and evidence of a set of shards: its set of distinct values (an exact
    sufficient statistic: the union of the sets), in order as one run, or in any order without most
    of the rest of the public range (as I-08: a listing of every possible value shows no set); an
    unnamed summary's set is found from its values (covering_sets). Raw: the shard's 30 numbers. Of
    all shards: the count, or the full distinct set.
    """

    id = "III-26"
    slug = "global-distinct"
    name = "global distinct"
    level = 3
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Hash partitioning: every value is sent to the agent owning its hash bucket (all-to-all shuffle); "
            "owners count their distinct values and the counts are summed.")
    items = 30

    def generate(self, n_agents, rng):
        top = 15 * n_agents
        return [subset_draws(rng, top, self.items) for _ in range(n_agents)], {"range_end": top}

    def solve(self, shards, params):
        count = len({v for s in shards for v in s})
        return [count] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold {self.items} integers between 0 and {params['range_end'] - 1}; "
                "values may repeat, within an agent and across agents. Every agent must submit how many "
                "different values occur among all the integers held by all agents.")

    def render_shard(self, data, agent, params):
        return "Your integers: " + json.dumps(data)

    def check(self, answer, truth):
        return check_value(as_number(answer), truth)

    def stat_fingerprint(self, inst, agents, i):
        values = tuple(sorted({v for j in agents for v in inst.shards[j].data}))
        # in order as one run, or in any order without most of the rest of the public range (a listing of
        # every possible value matches any set and shows none), as I-08's union
        top = inst.params["range_end"] - 1
        distinct = AnyOf((Items(values, ordered=True), Items(values, domain=(0, top))))
        if agents >= self.depends_on(inst, i):
            return AnyOf((super().stat_fingerprint(inst, agents, i), distinct))
        return distinct

    def stat_sets(self, inst, content, within, i):
        return covering_sets(content, within, {j: set(inst.shards[j].data) for j in within})

    def partial(self, data, agent, params):
        return sorted(set(data))

    def combine(self, partials, params):
        count = len({v for p in partials for v in p})
        return [count] * len(partials)


@register
class GlobalDistinctV1(GlobalDistinct):
    """III-26 v1, the reference's generator: 30 ints uniform in range(15N) per agent."""

    version = 1

    def generate(self, n_agents, rng):
        top = 15 * n_agents
        return [[rng.randrange(top) for _ in range(self.items)] for _ in range(n_agents)], {"range_end": top}
