"""III-21 distributed sort: 20 shuffled ints in [1, 1000] per agent; agent k submits its slice of the sorted array."""

from __future__ import annotations

import json

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.base import as_int_list
from silo.tasks.common import ShuffleTask, check_int_list, cut_like
from silo.tasks.common import instance_memo as _memo


@register
class DistributedSort(ShuffleTask):
    """Sort all N*20 integers ascending (duplicates kept); agent k submits positions 20k .. 20k+19.

    Decisions: the sorted array is cut into slices as long as the shards (all 20, so agent k's
    slice is sorted[20k:20k+20]); an agent's slice depends on every shard. Partial credit: LCS
    of the submitted and true slice / 20. Evidence: a shard's raw multiset (20 numbers), or, for
    the slice agent 0 returns, the true slice as an ordered run (only after agent 0 saw all).
    """

    id = "III-21"
    slug = "distributed-sort"
    name = "distributed sort"
    level = 3
    version = 1
    answer_kind = "segmented"
    raw_per_receiver = False  # raw_fingerprint does not depend on the receiver
    answer_format = "a JSON list of 20 integers in ascending order, e.g. [3, 17, 17, 240, ...]"
    oracle = "star"
    hint = ("Sample sort: agents agree on splitters, send each value to the agent owning its range, "
            "and each agent sorts what it receives (all-to-all shuffle).")
    items = 20

    def generate(self, n_agents, rng):
        values = [rng.randint(1, 1000) for _ in range(self.items * n_agents)]
        rng.shuffle(values)
        return [values[a * self.items:(a + 1) * self.items] for a in range(n_agents)], {"per_agent": self.items}

    def solve(self, shards, params):
        return cut_like(sorted(v for s in shards for v in s), shards)

    def describe(self, n_agents, params):
        k = params["per_agent"]
        return (f"{n_agents} agents each hold {k} integers. Consider all {k * n_agents} integers together, "
                "sorted in ascending order (duplicates kept), and cut into consecutive slices of "
                f"{k}: agent 0 gets positions 0..{k - 1} (0-based), agent 1 the next {k}, and so on. "
                "Every agent must submit its own slice, i.e. agent with id a submits the sorted "
                f"values at positions {k}*a .. {k}*a+{k - 1}.")

    def render_shard(self, data, agent, params):
        return "Your integers: " + json.dumps(data)

    def check(self, answer, truth):
        return check_int_list(as_int_list(answer), truth)

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            memo = _memo(inst)  # one object per receiver: the scorer asks for it once per (set, receiver)
            got = memo.get(("answer", i))
            if got is None:
                got = memo[("answer", i)] = Items(tuple(inst.truth[i]), ordered=True)
            return got
        return None
