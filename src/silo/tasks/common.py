"""Helpers shared by tasks: answer coercion, level III partial credit, the shuffle topology."""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from silo.tasks.base import _canon, as_number

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
