"""stat_sets helpers for statistics that add up over shards (sums and counts, per-cluster sums): the sets of
an author's shards whose summed statistic a content shows, an unnamed "combined summary" included.

Every statistic is an exact integer vector (a 2-dp sum in hundredths, a count), so a subset matches a target
exactly, found by meeting in the middle over at most MAX_SHARDS shards (two halves of 2^8 subset sums).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import combinations
from typing import Any

from silo.evidence_text import Parsed, _norm

MAX_SHARDS = 16
# a number as written, thousands groups included ("4,532.17"); what `Parsed.numbers` splits into 4 and 532.17
_GROUPED_NUM = re.compile(r"(?<![\w.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]*\d)|(?<![\w.\-])-?\d+(?:\.\d+)?")


def cents(x: float) -> int:
    """A 2-dp quantity as an exact number of hundredths."""
    return round(x * 100)


def per_shard(inst, key: str, make: Callable[[int], Any]) -> dict[int, Any]:
    """make(j) for every shard of an instance, computed once per instance and key (a replay asks per content)."""
    k = (inst.id, tuple(s.text for s in inst.shards), key)
    if k not in _PER_SHARD:
        if len(_PER_SHARD) >= 64:
            _PER_SHARD.clear()
        _PER_SHARD[k] = {j: make(j) for j in range(inst.n_agents)}
    return _PER_SHARD[k]


_PER_SHARD: dict[tuple, dict[int, Any]] = {}


def sequences(p: Parsed) -> list[tuple]:
    """The content's numbers in order (as parsed, and with thousands groups read whole) and its table columns."""
    whole = tuple(_norm(float(m.replace(",", ""))) for m in _GROUPED_NUM.findall(p.text))
    return [p.numbers, *p.columns] + ([whole] if whole != p.numbers else [])


def windows(p: Parsed, k: int) -> set[tuple]:
    """Every run of k consecutive numbers of the content (see `sequences`)."""
    return {tuple(seq[n:n + k]) for seq in sequences(p) for n in range(len(seq) - k + 1)}


def summed_sets(within: Iterable[int], vec: dict[int, tuple[int, ...]], targets: Iterable[tuple[int, ...]],
                least: int = 2) -> list[frozenset[int]]:
    """The subsets of `within` (at least `least` shards, at most MAX_SHARDS shards in all) whose summed vectors
    equal a target; one subset per target and split (ties between subsets are left to the fingerprint)."""
    shards = sorted(within)
    if not least <= len(shards) <= MAX_SHARDS:
        return []
    k = len(vec[shards[0]])
    lo = tuple(sum(min(vec[j][n], 0) for j in shards) for n in range(k))
    hi = tuple(sum(max(vec[j][n], 0) for j in shards) for n in range(k))
    todo = [t for t in set(targets) if len(t) == k and all(a <= x <= b for a, x, b in zip(lo, t, hi, strict=True))]
    if not todo:
        return []
    half = len(shards) // 2
    left, right = subset_sums(shards[:half], vec, k), subset_sums(shards[half:], vec, k)
    found = []
    for t in todo:
        for total, a in left.items():
            b = right.get(tuple(x - y for x, y in zip(t, total, strict=True)))
            if b is not None and len(a | b) >= least and (a | b) not in found:
                found.append(a | b)
    return found


def subset_sums(shards: list[int], vec: dict, k: int) -> dict[tuple, frozenset[int]]:
    """Summed vector -> one subset of `shards` with that sum."""
    out: dict[tuple, frozenset[int]] = {(0,) * k: frozenset()}
    for j in shards:
        for total, sub in list(out.items()):
            out.setdefault(tuple(x + y for x, y in zip(total, vec[j], strict=True)), sub | {j})
    return out


def value_sets(within: frozenset[int], value: dict[int, int], content: Parsed, slack: int = 0) -> list[frozenset[int]]:
    """Sets of 2+ shards of `within` whose summed `value` (an exact count of hundredths per shard) is a number
    of the content, within `slack` hundredths (thousands groups read whole, in any layout)."""
    if not 2 <= len(within) <= MAX_SHARDS:
        return []
    floor = (sum(sorted(value[j] for j in within)[:2]) - slack) / 100  # no set of two shards sums to less
    targets = {(cents(x) + d,) for x in content.counts if x >= floor for d in range(-slack, slack + 1)}
    return summed_sets(within, {j: (value[j],) for j in within}, targets)


def total_sets(inst, content: Parsed, within: frozenset[int]) -> list[frozenset[int]]:
    """Sets of 2+ shards of `within` whose 2-dp total (within a hundredth) and number of values both appear in
    the content: a combined {"sum", "count"} summary of some of the shards its author holds (I-07, I-10)."""
    total = per_shard(inst, "total", lambda j: sum(cents(v) for v in inst.shards[j].data))
    size = per_shard(inst, "size", lambda j: len(inst.shards[j].data))
    return [s for s in value_sets(within, total, content, 1) if content.counts.get(sum(size[j] for j in s), 0)]


def top_sets(tops: dict[int, list], content: Parsed, k: int, most: int = 12) -> list[frozenset[int]]:
    """Sets of 2+ shards whose k largest values (`tops`: each shard's own k largest, descending) are a
    non-increasing run of k numbers of the content: a combined top-k of some of the shards its author holds.
    Only shards with a value above the run's smallest, all of whose values above it are in the run, can
    belong: shards wholly below the run, and one whose only share is a tie with the smallest, cannot be told
    apart from shards the summary left out, so they are not credited; at most `most` such shards are tried."""
    if not 2 <= len(tops) <= MAX_SHARDS:
        return []
    found = []
    for run in windows(content, k):
        if any(a < b for a, b in zip(run, run[1:], strict=False)):
            continue
        least, have = run[-1], Counter(run)
        fits = [j for j, top in tops.items() if least < top[0] and not Counter(v for v in top if v > least) - have]
        if not 2 <= len(fits) <= most:
            continue
        for size in range(2, len(fits) + 1):
            for group in combinations(fits, size):
                if sorted((v for j in group for v in tops[j]), reverse=True)[:k] == list(run):
                    found.append(frozenset(group))
    return list(dict.fromkeys(found))
