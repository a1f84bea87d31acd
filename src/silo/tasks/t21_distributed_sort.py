"""III-21 distributed sort: 20 shuffled ints in [1, 1000] per agent; agent k submits its slice of the sorted array.

Also home of small level-III helpers (ordered partial credit, tolerant list parsing) that the
other level-III modules import; they belong in tasks/base.py eventually.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.base import TaskSpec, _canon, as_int_list, as_number

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


def lcs_length(masks: Sequence[int], m: int) -> int:
    """LCS length from bit masks (bit k of masks[x]: answer item x matches truth item k).

    Bit-parallel (Hyyro 2004): O(len(masks)) big-integer steps of m bits, so thousands of
    items cost milliseconds."""
    full = (1 << m) - 1
    v = full
    for mask in masks:
        u = v & mask
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def _canon_key(x: Any) -> str:
    return json.dumps(_canon(x), sort_keys=True)


def ordered_partial(answer: Sequence, truth: Sequence, key: Callable[[Any], Any] = _canon_key) -> float:
    """Level III partial credit: longest common subsequence of answer and truth / len(truth).

    Items match when their keys are equal (default: canonical JSON, so 3, 3.0 and "3" agree)."""
    if not truth:
        return 0.0
    where: dict[Any, int] = {}
    for k, t in enumerate(truth):
        kt = key(t)
        where[kt] = where.get(kt, 0) | (1 << k)
    return lcs_length([where.get(key(a), 0) for a in answer], len(truth)) / len(truth)


def ordered_partial_numbers(answer: Sequence, truth: Sequence[float], tol: float) -> float:
    """Level III partial credit for a list of numbers: LCS where items match within `tol`."""
    if not truth:
        return 0.0
    where: dict[float, int] = {}
    for k, t in enumerate(truth):
        where[t] = where.get(t, 0) | (1 << k)
    values = sorted(where)
    masks = []
    for a in answer:
        x = as_number(a)
        mask = 0
        if x is not None:  # the truth values within tolerance form one run of the sorted distinct values
            for t in values[bisect_left(values, x - tol - 1e-12):bisect_right(values, x + tol + 1e-12)]:
                mask |= where[t]
        masks.append(mask)
    return lcs_length(masks, len(truth)) / len(truth)


def ordered_partial_by(answer: Sequence, truth: Sequence, same: Callable[[Any, Any], bool]) -> float:
    """Level III partial credit with an arbitrary item comparison (for short lists: O(len * len) calls)."""
    if not truth:
        return 0.0
    masks = [sum(1 << k for k, t in enumerate(truth) if same(a, t)) for a in answer]
    return lcs_length(masks, len(truth)) / len(truth)


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
        return got == truth, 1.0 if got == truth else ordered_partial(got, truth, int)

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return Items(tuple(inst.truth[i]), ordered=True)
        return None
