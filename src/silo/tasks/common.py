"""Helpers shared by tasks: answer coercion and checks, level III partial credit, shared task shapes."""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from silo.tasks.base import TaskSpec, _canon, as_number, split_even

SHUFFLE_TOPOLOGY = "all-to-all shuffle (every agent exchanges with every other)"


_last: tuple = (None, {})  # (an instance, its memo): the last instance a task's scoring hooks were asked about


def instance_memo(inst) -> dict:
    """What a task's scoring hooks derive from one instance alone (shard sums and counts, fingerprints), made
    once per instance: the scorer asks for thousands of (set, receiver) pairs of one instance in a row. Keyed by
    the instance object itself, held here so its id cannot be reused; instances are not changed once made, and
    each belongs to one task, whose hooks choose the keys. (The pair is read once: a thread that switches the
    instance meanwhile cannot hand this caller another instance's memo.)"""
    global _last
    got = _last
    if got[0] is not inst:
        got = _last = (inst, {})
    return got[1]


def shuffle_messages(n_agents: int) -> int:
    """Messages of the reference's all-to-all shuffle: every ordered pair of agents once."""
    return n_agents * (n_agents - 1)


def as_json(x: Any, kind: type | tuple[type, ...]) -> Any:
    """An answer as an instance of `kind` (a string is decoded as JSON first); None if impossible."""
    if isinstance(x, str):
        try:
            x = json.loads(x)
        except (ValueError, RecursionError):
            return None
    return x if isinstance(x, kind) else None


def as_list(x: Any) -> list | None:
    """An answer as a list (accepts a JSON string of a list); None if impossible."""
    return as_json(x, list)


def check_value(value: Any, truth: Any) -> tuple[bool, float]:
    """(correct, 0/1 credit) of an answer already coerced by the task's parser (None: unreadable)."""
    ok = value is not None and value == truth
    return ok, 1.0 if ok else 0.0


def check_int_list(got: list[int] | None, truth: list[int]) -> tuple[bool, float]:
    """Level III check of an int list (None: unreadable): exact match, else LCS partial credit."""
    if got is None:
        return False, 0.0
    return got == truth, 1.0 if got == truth else ordered_partial(got, truth, int)


def check_items(answer: Any, truth: list, same: Callable[[Any, Any], bool]) -> tuple[bool, float]:
    """Level III list check with an item comparison: (every item right, LCS partial credit)."""
    got = as_list(answer)
    if got is None:
        return False, 0.0
    return len(got) == len(truth) and all(map(same, got, truth)), ordered_partial_by(got, truth, same)


def cut_like(values: list, shards: list[list]) -> list[list]:
    """`values` cut into consecutive slices as long as the shards, in agent order."""
    out, start = [], 0
    for s in shards:
        out.append(values[start:start + len(s)])
        start += len(s)
    return out


def span_text(head: str, start: int, data: Any, tail: str = " (in order)") -> str:
    """A slice shown with its global positions, e.g. 'Global positions 15..29 (in order): [...]'."""
    return f"{head} {start}..{start + len(data) - 1}{tail}: {json.dumps(data)}"


def draw_edges(rng, n_nodes: int, draws: int, directed: bool) -> list[list[int]]:
    """`draws` uniform pairs [u, v], u != v, repeats dropped (either orientation if undirected), shuffled."""
    seen, edges = set(), []
    for _ in range(draws):
        u = rng.randrange(n_nodes)
        v = rng.randrange(n_nodes - 1)
        v += v >= u  # uniform over v != u
        key = (u, v) if directed else frozenset((u, v))
        if key not in seen:
            seen.add(key)
            edges.append([u, v])
    rng.shuffle(edges)
    return edges


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


class StarReduce(TaskSpec):
    """A task whose reference solver is its star oracle: combine the partial of every shard."""

    def solve(self, shards, params):
        return self.combine([self.partial(s, a, params) for a, s in enumerate(shards)], params)


class DecimalsReduce(StarReduce):
    """A star reduce over `items` values U(0, 100) per agent, rounded to 2 dp and shown with 2 decimals."""

    items: ClassVar[int]

    def generate(self, n_agents, rng):
        return [[round(rng.uniform(0, 100), 2) for _ in range(self.items)] for _ in range(n_agents)], {}

    def render_shard(self, data, agent, params):
        return ", ".join(f"{v:.2f}" for v in data)


class ChainTask(TaskSpec):
    """A level II task on consecutive slices of one global list, optimal along a chain (N - 1 messages)."""

    items: ClassVar[int]
    low: ClassVar[int]
    high: ClassVar[int]
    span_head: ClassVar[str] = "Global positions"
    span_tail: ClassVar[str] = " (in order)"
    optimal_topology = "chain"

    def optimal_messages(self, n_agents):
        return n_agents - 1

    def random_values(self, n_agents, rng) -> list[int]:
        """The global list: `items` ints per agent, uniform in [low, high]."""
        return [rng.randint(self.low, self.high) for _ in range(self.items * n_agents)]

    def generate(self, n_agents, rng):
        values = self.random_values(n_agents, rng)
        return split_even(values, n_agents), {"items_per_agent": self.items, "length": len(values)}

    def render_shard(self, data, agent, params):
        return span_text(self.span_head, agent * params["items_per_agent"], data, self.span_tail)


class ShuffleTask(TaskSpec):
    """A level III task whose optimal topology is the all-to-all shuffle."""

    optimal_topology = SHUFFLE_TOPOLOGY

    def optimal_messages(self, n_agents):
        return shuffle_messages(n_agents)


def window_draws(rng, lo: int, hi: int, k: int) -> list[int]:
    """`k` ints drawn uniformly from a random window of [lo, hi]: width uniform from a tenth of the range to
    all of it, start uniform. Per-shard windows make every shard's values (and their counts, distinct
    values, medians) tell little about the other shards'."""
    span = hi - lo + 1
    width = rng.randint(max(1, span // 10), span)
    start = rng.randint(lo, hi - width + 1)
    return [rng.randint(start, start + width - 1) for _ in range(k)]


def subset_draws(rng, top: int, k: int, smallest: int = 5) -> list[int]:
    """`k` ints drawn uniformly (with replacement) from a random subset of range(top) whose size is in
    smallest..k (smallest + (k - smallest + 1) * u^2, u uniform: small subsets likelier): every shard
    repeats its values a different number of times, so neither its own
    distinct count nor the union's size is predictable from one shard (a shard still holds several
    distinct values, which its evidence needs)."""
    low, high = min(smallest, k, top), min(k, top)
    pool = rng.sample(range(top), low + int((high - low + 1) * rng.random() ** 2))  # small subsets likelier
    return [rng.choice(pool) for _ in range(k)]
