"""II-11 prefix sum: 15 ints in [1, 50] per agent, in order; each agent submits its slice of the prefix sums.

Also holds small helpers shared by the level II modules (list checking, slice bounds, prefix candidate sets).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from silo.evidence import AnyOf, Items, Value, answer_fingerprint
from silo.tasks import register
from silo.tasks.base import _canon, as_number, split_even
from silo.tasks.common import ChainTask, as_list
from silo.tasks.common import instance_memo as _memo
from silo.tasks.t18_list_ranking import Pairs


def check_list(answer: Any, truth: list, tol: float = 0.0) -> tuple[bool, float]:
    """Level II list check: (all positions right and same length, share of right positions).

    The share is taken over max(len(answer), len(truth)) so padding an answer never earns credit."""
    got = as_list(answer)
    if got is None or not truth:
        return False, 0.0
    if tol:
        def same(a, t):
            x = as_number(a)
            return x is not None and abs(x - t) <= tol + 1e-9
    else:
        def same(a, t):
            return _canon(a) == _canon(t)
    right = sum(same(a, t) for a, t in zip(got, truth, strict=False))
    ok = right == len(truth) == len(got)
    return ok, 1.0 if ok else right / max(len(got), len(truth))


def bounds(n_items: int, n_agents: int) -> list[tuple[int, int]]:
    """[start, end) global positions of each agent's slice under base.split_even."""
    size = n_items // n_agents
    return [(a * size, (a + 1) * size if a < n_agents - 1 else n_items) for a in range(n_agents)]


def prefix_candidates(upstream: frozenset[int], i: int) -> list[frozenset[int]]:
    """Candidate sets for chain tasks: the upstream, its part in 0..i, and its longest prefixes {0..m}, {0..m-1}.

    A chain carry is the statistic of shards 0..k even when its sender has also heard from
    agents outside that prefix (the upstream is then larger than what the carry summarises).
    m is the longest prefix inside the upstream, capped at i; {0..m-1} covers a carry sent by an
    agent that had already heard from agent i. Only these two prefixes are tried: every prefix
    would cost O(N) fingerprints per observation, O(N^3) per broadcast episode."""
    run = _run(upstream)
    if run == len(upstream):  # upstream is {0..run-1} (as a chain's are): the rest is _prefix_tail's
        return [upstream, *_prefix_tail(run, min(i, run - 1))]
    sets = [upstream]
    own = upstream & _prefix(i)
    if own and own != upstream:
        sets.append(own)
    m = min(run, i + 1)
    sets += [s for s in (_prefix(k) for k in (m - 1, m - 2) if k >= 0) if s not in sets]
    return sets


@lru_cache(maxsize=8192)
def _prefix_tail(run: int, i: int) -> tuple[frozenset[int], ...]:
    """prefix_candidates' sets after an upstream {0..run-1}: its part in 0..i (made once per i), then the prefixes
    {0..m-1}, {0..m-2} it does not hold. Once per (run, i), not per content and receiver: every receiver
    i >= run - 1 has the same ones (prefix_candidates asks with i capped there)."""
    sets = [_prefix(run - 1) if run else frozenset()]  # (stands for the upstream, equal to it: only compared)
    if i + 1 < run:
        sets.append(_prefix(i))
    m = min(run, i + 1)
    sets += [s for s in (_prefix(k) for k in (m - 1, m - 2) if k >= 0) if s not in sets]
    return tuple(sets[1:])


@lru_cache(maxsize=256)
def _run(upstream: frozenset[int]) -> int:
    """The length of the longest prefix {0..m-1} inside upstream, once per set (not per set and receiver: the
    contents of an agent share one upstream until it grows)."""
    m = 0
    while m in upstream:
        m += 1
    return m


@lru_cache(maxsize=4096)
def _prefix(m: int) -> frozenset[int]:
    return frozenset(range(m + 1))


def _total(inst, memo: dict, agents: frozenset[int]) -> int:
    """The sum of the shards `agents`, summed shard by shard in the set's order (as it always was)."""
    got = memo.get(agents)
    if got is None:
        sums = memo.get("sums") or memo.setdefault("sums", [sum(s.data) for s in inst.shards])
        got = memo[agents] = sum(sums[j] for j in agents)
    return got


def _answer(inst, memo: dict, k: int):
    got = memo.get(k)
    if got is None:
        got = memo[k] = answer_fingerprint(inst.truth[k])
    return got


@register
class PrefixSum(ChainTask):
    """Inclusive prefix sums: P[p] = a[0] + ... + a[p] over the global list (agent 0's slice first).

    depends_on(i) = {0..i}. The sum of any set S of shards inside 0..i is a sufficient piece of
    what agent i needs (it needs the total of shards 0..i-1), so stat_fingerprint(S, i) is that
    sum (a Value; every shard sum is >= 15, so never weak), or for S = {0..k}, k < i, agent k's
    answer (its prefix sums, the last of which is that total). Sets reaching beyond i count only as
    the answer itself. Guards: a Value is only credited for sets upstream of the content it is
    found in; raw shards need all 15 numbers in their order (an ordered run, or down a table column)."""

    id = "II-11"
    slug = "prefix-sum"
    name = "prefix sum"
    level = 2
    version = 1
    answer_kind = "segmented"
    raw_per_receiver = False  # raw_fingerprint does not depend on the receiver
    answer_format = ("a JSON list of integers, one per element of your slice, in order: the inclusive prefix "
                     "sums of the global list at your positions, e.g. [412, 450, 461]")
    oracle = "chain"
    hint = ("Chain scan: agent 0 computes its prefix sums and passes its running total to agent 1, which adds "
            "it to its own prefix sums and passes the new total on, and so on (chain topology, N-1 messages).")
    items = 15
    low, high = 1, 50

    def generate(self, n_agents, rng):
        return split_even(self.random_values(n_agents, rng), n_agents), {"items_per_agent": self.items}

    def solve(self, shards, params):
        out, total = [], 0
        for s in shards:
            mine = []
            for v in s:
                total += v
                mine.append(total)
            out.append(mine)
        return out

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a consecutive slice of one global list of integers: agent 0 holds "
                "the first slice, agent 1 the next, and so on. Let P[p] be the sum of the global list's elements "
                "at positions 0..p (inclusive). Every agent must submit P[p] for every position p of its own "
                "slice, in order, as a JSON list of integers.")

    def check(self, answer, truth):
        return check_list(answer, truth)

    def depends_on(self, inst, agent):
        return _prefix(agent)  # (frozenset(range(agent + 1)), one object per agent: sets equal to it are found by id)

    def stat_receiver(self, inst, agents, i):
        return -1 if agents and max(agents) < i else i  # (a set short of i: its sum, whoever reads it)

    def credit_receiver(self, inst, prov, i):
        return -1 if prov and max(prov) < i else i  # (a receiver past all the content's author had: the same search)

    def candidate_sets(self, inst, upstream, i):
        return prefix_candidates(upstream, i)

    def raw_fingerprint(self, inst, j, i):
        # in order, as one run (or down a table column), or every value right after its position (global or
        # within the slice: "position 15: 23"): a multiset of 15 values in [1, 50] is inside a longer paste
        # of other shards by chance (the chatty grid: a bundle of six shards showed a seventh)
        data = inst.shards[j].data
        memo = _memo(inst)  # (the slices' bounds once per instance, not once per shard: O(N), not O(N^2))
        starts = memo.get("starts") or memo.setdefault("starts", bounds(sum(len(s.data) for s in inst.shards),
                                                                         inst.n_agents))
        start = starts[j][0]
        return AnyOf((Items(tuple(data), ordered=True), Pairs(tuple((start + k, v) for k, v in enumerate(data))),
                      Pairs(tuple(enumerate(data)))))

    def stat_fingerprint(self, inst, agents, i):
        # one object per value (memo): the scorer asks for every (set, receiver) of an instance, and a set short
        # of 0..i has the same fingerprint for every receiver i (matched once: Replay._fingerprint)
        dep = _prefix(i)
        memo = _memo(inst)
        if agents == dep:
            got = memo.get(("whole", i))
            if got is None:
                got = memo[("whole", i)] = AnyOf((Value(_total(inst, memo, agents)), _answer(inst, memo, i)))
            return got
        if agents <= dep:
            got = memo.get(("part", agents))
            if got is None:
                got = Value(_total(inst, memo, agents))
                k = max(agents)  # (< i: agents is within 0..i and not all of it)
                if agents == _prefix(k):  # agent k's answer ends with the total of 0..k (in a table too)
                    got = AnyOf((got, _answer(inst, memo, k)))
                memo[("part", agents)] = got
            return got
        return _answer(inst, memo, i) if agents >= dep else None

    def chain_init(self, params):
        return 0

    def chain_step(self, carry, data, agent, params):
        mine, total = [], carry
        for v in data:
            total += v
            mine.append(total)
        return mine, total
