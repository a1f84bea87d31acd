"""I-08 set union size: 30 ints from range(15N) per agent; every agent submits the number of distinct values."""

from __future__ import annotations

from silo.evidence import AnyOf, Items, answer_fingerprint
from silo.tasks import register
from silo.tasks.base import covering_sets
from silo.tasks.common import StarReduce, subset_draws


@register
class SetUnionSize(StarReduce):
    """Number of distinct integers over every agent's list.

    Decisions: each agent draws 30 integers (with replacement) from 0 .. 15N-1. v2 (a deviation from
    the reference): uniformly from its own random subset of that range, of random size in 5..30
    (tasks.common.subset_draws).
    With every value uniform on the whole range (v1, I-08@1, the reference) the union size was so
    concentrated that the expected size was right 24% of the time at N = 2, 16% at 5 and 11-13%
    at N = 10 and 20 (docs/guessability.md); per-shard subsets spread it at every N.
    Star partial: the shard's set of distinct values, sorted (the union is the reduce; a
    count of distinct values cannot be combined). Evidence: a set of shards is recognised
    by its whole union appearing in the content (about 20-30 values, in any order), or,
    covering every shard, by the answer itself.
    """

    id = "I-08"
    slug = "set-union-size"
    name = "set union size"
    level = 1
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent sends its set of distinct values to one agent, which takes the union, counts "
            "it and shares the count with everyone (star topology).")
    items = 30
    spread = 15

    def generate(self, n_agents, rng):
        hi = self.spread * n_agents
        return [subset_draws(rng, hi, self.items) for _ in range(n_agents)], {"values_below": hi}

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of integers (from 0 to {params['values_below'] - 1}; "
                "values may repeat). Every agent must submit how many distinct values occur over the lists "
                "of all agents (a value held several times, by one or several agents, counts once).")

    def render_shard(self, data, agent, params):
        return ", ".join(map(str, data))

    def partial(self, data, agent, params):
        return sorted(set(data))

    def combine(self, partials, params):
        size = len(set().union(*map(set, partials)))
        return [size] * len(partials)

    def stat_sets(self, inst, content, within, i):
        return covering_sets(content, within, {j: set(inst.shards[j].data) for j in within})

    def stat_fingerprint(self, inst, agents, i):
        values = tuple(sorted(set().union(*(inst.shards[j].data for j in agents))))
        # listed in order as one run ("seen: [0, 2, 3, ...]"), or in any order without most of the rest of
        # the public range (which matches any union and shows none)
        union = AnyOf((Items(values, ordered=True), Items(values, domain=(0, inst.params["values_below"] - 1))))
        if agents >= self.depends_on(inst, i):
            return AnyOf((union, answer_fingerprint(inst.truth[i])))
        return union


@register
class SetUnionSizeV1(SetUnionSize):
    """I-08 v1, the reference's generator: 30 ints uniform in range(15N) per agent."""

    version = 1

    def generate(self, n_agents, rng):
        hi = self.spread * n_agents
        return [[rng.randrange(hi) for _ in range(self.items)] for _ in range(n_agents)], {"values_below": hi}
