"""The classes of one distinct_answers call by look-up: representatives' keys in a set (Exact) or, for numbers
within a tolerance, in sorted coordinates (Near); the key functions are answer_keys.py's."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable

ODD = object()
"""A key for a value the keys do not describe exactly: it is compared with the representatives by the checker."""


class Exact:
    """Keys seen so far (a set)."""

    def __init__(self):
        self.keys: set = set()

    def add(self, key) -> None:
        if key is not None:
            self.keys.add(key)

    def has(self, key) -> bool:
        return key is not None and key in self.keys


class Ball:
    """Number vectors of one group: whether one lies within the tolerances of a query in every coordinate.

    Candidates, then each checked as the checker does: (1) a few coordinates are kept sorted, and a query's
    window on one (values within twice the tolerance: a superset of the matches, float subtraction being
    monotone) holds every match; the representatives of a scalar are more than the tolerance apart, so a
    window holds a handful. (2) Past AXES coordinates, vectors that differ in a few places (one moved entry)
    share the sorted ones: then, per coordinate, the representatives off the group's first vector (by more
    than half the tolerance) are listed, and a query more than twice the tolerance off it somewhere can only
    match one of those (the triangle inequality, with room for rounding). The shortest list found is scanned."""

    AXES = 64

    def __init__(self, tols: tuple):
        self.tols = tols
        self.vecs: list[tuple] = []
        d = len(tols)
        self.axes = list(range(d)) if d <= self.AXES else sorted({k * (d - 1) // (self.AXES - 1)
                                                                  for k in range(self.AXES)})
        self.cols: list[list] = [[] for _ in self.axes]  # (value, representative) sorted, per axis
        self.off: dict[int, list[int]] | None = {} if d > self.AXES else None  # coordinate -> representatives

    def add(self, vec: tuple) -> None:
        i = len(self.vecs)
        self.vecs.append(vec)
        for col, c in zip(self.cols, self.axes, strict=True):
            insort(col, (vec[c], i))
        if self.off is not None:
            base = self.vecs[0]
            for c, (x, b, t) in enumerate(zip(vec, base, self.tols, strict=True)):
                if abs(x - b) > t / 2:
                    self.off.setdefault(c, []).append(i)

    def has(self, q: tuple) -> bool:
        if not self.axes:
            return bool(self.vecs)  # empty vectors: within any tolerance of each other
        best = None
        for col, c in zip(self.cols, self.axes, strict=True):
            w = 2 * self.tols[c]
            lo = bisect_left(col, (q[c] - w,))
            hi = bisect_right(col, (q[c] + w, math.inf))
            if lo == hi:
                return False
            if best is None or hi - lo < len(best):
                best = [i for _, i in col[lo:hi]]
        if self.off is not None and len(best) > 1:
            base = self.vecs[0]
            for c, (x, b, t) in enumerate(zip(q, base, self.tols, strict=True)):
                if abs(x - b) > 2 * t:
                    listed = self.off.get(c, ())
                    if len(listed) < len(best):
                        best = listed
                        if not best:
                            return False
        tols = self.tols
        return any(all(abs(x - y) <= t for x, y, t in zip(q, self.vecs[i], tols, strict=True)) for i in best)


class Near:
    """(group, numbers) keys seen so far: a Ball per group."""

    def __init__(self, tol: float | tuple):
        self.tol = tol
        self.groups: dict = {}

    def add(self, key) -> None:
        if key is not None:
            group, vec = key
            if group not in self.groups:
                tol = self.tol
                self.groups[group] = Ball(tol if isinstance(tol, tuple) else (tol,) * len(vec))
            self.groups[group].add(vec)

    def has(self, key) -> bool:
        if key is None:
            return False
        ball = self.groups.get(key[0])
        return ball is not None and ball.has(key[1])


class Lookup:
    """The classes of one distinct_answers call: `same(a, c)` (c: _canon(a)) tells whether a representative so
    far is the same answer as a; if none is, a becomes one. `pairwise(a, r)` is scoring._same for the task."""

    def __init__(self, keys: tuple[Callable, Callable], store: Callable, pairwise: Callable):
        self.answer_key, self.truth_key = keys
        self.truths, self.answers = store(), store()
        self.pairwise = pairwise
        self.reps: list = []
        self.odd: list = []  # representatives with an ODD key: compared by the checker

    def same(self, a, c) -> bool:
        keys = (self._key(self.answer_key, a), self._key(self.truth_key, a), self._key(self.truth_key, c))
        if any(k is ODD for k in keys):
            if any(self.pairwise(a, r) for r in self.reps):
                return True
            self.odd.append(a)
        else:
            ka, kt, ktc = keys
            if self.truths.has(ka) or self.answers.has(kt) or self.answers.has(ktc):
                return True
            if any(self.pairwise(a, r) for r in self.odd):
                return True
            self.answers.add(ka)
            self.truths.add(kt)
            self.truths.add(ktc)
        self.reps.append(a)
        return False

    @staticmethod
    def _key(read: Callable, x):
        try:
            return read(x)
        except Exception:  # noqa: BLE001 - a value these keys did not foresee: the checker decides
            return ODD
