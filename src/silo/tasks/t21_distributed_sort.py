"""III-21 distributed sort: 20 shuffled ints in [1, 1000] per agent; agent k submits its slice of the sorted array.

Also home of small level-III helpers (ordered partial credit, tolerant list parsing) that the
other level-III modules import; they belong in tasks/base.py eventually.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.base import TaskSpec, _canon, as_int_list

SHUFFLE_TOPOLOGY = "all-to-all shuffle (every agent exchanges with every other)"


def shuffle_messages(n_agents: int) -> int:
    """Messages of the reference's all-to-all shuffle: every ordered pair of agents once."""
    return n_agents * (n_agents - 1)


def as_list(x: Any) -> list | None:
    """An answer as a list (accepts a JSON string of a list); None if impossible."""
    if isinstance(x, str):
        try:
            x = json.loads(x)
        except ValueError:
            return None
    return x if isinstance(x, list) else None


def ordered_partial(answer: Sequence, truth: Sequence, same: Callable[[Any, Any], bool] | None = None) -> float:
    """Level III partial credit: longest common subsequence of answer and truth / len(truth).

    `same` compares one answer item with one truth item (default: canonical equality). A common
    prefix and suffix are stripped first, so a long answer with a few errors stays cheap."""
    if not truth:
        return 0.0
    if same is None:
        def same(a, t):
            return _canon(a) == _canon(t)
    a, t = list(answer), list(truth)
    head = 0
    while head < min(len(a), len(t)) and same(a[head], t[head]):
        head += 1
    tail = 0
    while tail < min(len(a), len(t)) - head and same(a[-1 - tail], t[-1 - tail]):
        tail += 1
    a, t = a[head:len(a) - tail], t[head:len(t) - tail]
    prev = [0] * (len(t) + 1)
    for x in a:
        cur = [0]
        for k, y in enumerate(t):
            cur.append(prev[k] + 1 if same(x, y) else max(prev[k + 1], cur[k]))
        prev = cur
    return (head + tail + prev[-1]) / len(truth)


@register
class DistributedSort(TaskSpec):
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
    answer_format = "a JSON list of 20 integers in ascending order, e.g. [3, 17, 17, 240, ...]"
    oracle = "star"
    optimal_topology = SHUFFLE_TOPOLOGY
    hint = ("Sample sort: agents agree on splitters, send each value to the agent owning its range, "
            "and each agent sorts what it receives (all-to-all shuffle).")
    items = 20

    def optimal_messages(self, n_agents):
        return shuffle_messages(n_agents)

    def generate(self, n_agents, rng):
        values = [rng.randint(1, 1000) for _ in range(self.items * n_agents)]
        rng.shuffle(values)
        return [values[a * self.items:(a + 1) * self.items] for a in range(n_agents)], {"per_agent": self.items}

    def solve(self, shards, params):
        ordered = sorted(v for s in shards for v in s)
        out, start = [], 0
        for s in shards:  # slices as long as the shards
            out.append(ordered[start:start + len(s)])
            start += len(s)
        return out

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
        got = as_int_list(answer)
        if got is None:
            return False, 0.0
        return got == truth, ordered_partial(got, truth)

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return Items(tuple(inst.truth[i]), ordered=True)
        return None
