"""I-09 top-k: 30 ints in [1, 1000] per agent; every agent submits the 10 largest, descending."""

from __future__ import annotations

from silo.evidence import AnyOf, Items, answer_fingerprint
from silo.tasks import register
from silo.tasks.base import as_int_list
from silo.tasks.common import StarReduce, check_value
from silo.tasks.sums import per_shard, top_sets


@register
class TopK(StarReduce):
    """The K = 10 largest integers over every agent's list, in descending order.

    Decisions: duplicates are kept (the 10 largest entries of the multiset: [900, 900, ...]
    if 900 occurs twice). Star partial: the shard's own top 10 (any global top-10 entry is
    in its shard's top 10). Evidence: a set of shards is recognised by its top 10 appearing
    in the content in any order; covering every shard, also by the answer itself.
    A set of shards is also found from the content (stat_sets): the 2+ of the author's shards whose
    top 10 is a descending run of it (an unnamed "combined summary" of some of the shards it holds).
    The checker needs the exact list (order included); partial credit is 0 or 1 (level I).
    """

    id = "I-09"
    slug = "top-k"
    name = "top-k"
    level = 1
    version = 1
    answer_format = "a JSON list of 10 integers in descending order, e.g. [998, 990, 990, ...]"
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent sends its own 10 largest integers to one agent, which keeps the 10 largest of "
            "those and shares them with everyone (star topology).")
    items = 30
    k = 10

    def generate(self, n_agents, rng):
        return [[rng.randint(1, 1000) for _ in range(self.items)] for _ in range(n_agents)], {"k": self.k}

    def describe(self, n_agents, params):
        k = params["k"]
        return (f"{n_agents} agents each hold a list of integers. Every agent must submit the {k} largest "
                f"integers over the lists of all agents, largest first (a value held several times counts "
                f"as several entries, so it may appear several times among the {k}).")

    def render_shard(self, data, agent, params):
        return ", ".join(map(str, data))

    def check(self, answer, truth):
        return check_value(as_int_list(answer), list(truth))

    def partial(self, data, agent, params):
        return sorted(data, reverse=True)[:params["k"]]

    def combine(self, partials, params):
        top = sorted((v for p in partials for v in p), reverse=True)[:params["k"]]
        return [top] * len(partials)

    def stat_fingerprint(self, inst, agents, i):
        k = inst.params["k"]
        top = Items(tuple(sorted((v for j in agents for v in inst.shards[j].data), reverse=True)[:k]))
        if agents >= self.depends_on(inst, i):
            return AnyOf((top, answer_fingerprint(inst.truth[i])))
        return top

    def stat_sets(self, inst, content, within, i):
        tops = per_shard(inst, "top", lambda j: self.partial(inst.shards[j].data, j, inst.params))
        return top_sets({j: tops[j] for j in within}, content, inst.params["k"])
