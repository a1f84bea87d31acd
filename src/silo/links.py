"""The message grain of one episode: a row per (send, recipient), per write and per read of another agent's
file, and its sums per (sender, receiver) link. Split from silo.metrics (which re-exports it) so that what
the report's facts sidecar derives (silo.report_facts: its cache key digests this file) is apart from the
grouped metrics, whose changes then leave the sidecars of earlier runs valid.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from operator import attrgetter

import numpy as np

from silo.records import Episode

Edge = tuple[int, int]


def _messages(ep: Episode):
    """(round, kind, sender, receiver, chars) per (send, recipient), per write (receiver None), and per read
    of another agent's file: the rows of the message grain."""
    for e in ep.events:
        if e.kind == "send":
            for r in e.to or []:
                if r != e.agent:
                    yield e.round, "send", e.agent, r, e.chars
        elif e.kind == "write":
            yield e.round, "write", e.agent, None, e.chars
        elif e.kind == "read" and e.sender is not None and e.sender != e.agent:
            yield e.round, "read", e.sender, e.agent, e.chars


MESSAGE_KINDS = frozenset({"send", "write", "read"})  # the only events the message grain reads


def message_rows(ep: Episode) -> list[dict]:
    """Event/message grain: one row per (send, recipient), per write, and per read of another agent's file."""
    return [{"round": t, "kind": k, "sender": s, "receiver": r, "chars": c} for t, k, s, r, c in _messages(ep)]


def link_counts(ep: Episode) -> dict[tuple[int, int | None], list[int]]:
    """The message grain summed per (sender, receiver): [rows, characters]; receiver None for writes."""
    out: dict[tuple[int, int | None], list[int]] = {}
    for _, _, s, r, c in _messages(ep):
        x = out.get((s, r))
        if x is None:
            out[(s, r)] = [1, c]
        else:
            x[0] += 1
            x[1] += c
    return out


def link_summary(links: dict[tuple[int, int | None], list[int]], n: int) -> tuple[set[Edge], list[int], list[int]]:
    """Edges, messages received and characters received per agent, from link_counts (the same numbers as
    edges_of, received_counts and received_chars of the message rows)."""
    got, chars = [0] * n, [0] * n
    edges = set()
    for (s, r), (k, c) in links.items():
        if r is not None:
            edges.add((s, r))
            if 0 <= r < n:
                got[r] += k
                chars[r] += c
    return edges, got, chars


NONE = -(1 << 63)  # the receiver of a write in a link array (link_array)
SMALL_LOG = 64  # rows below which link_array_of takes link_counts (the best of 0-1,024 on both reference grids)


def link_array(links: dict[tuple[int, int | None], list[int]]) -> np.ndarray:
    """link_counts as a (4, links) int64 array of sender, receiver (NONE for writes), rows, characters."""
    a = np.array([(s, NONE if r is None else r, k, c) for (s, r), (k, c) in links.items()], dtype=np.int64)
    return a.reshape(-1, 4).T.copy()


_FIELDS = attrgetter("kind", "agent", "to", "chars", "sender")  # an event's fields link_array_of reads, in one call
_WRITE = (NONE,)  # a write's receivers


def link_array_of(ep: Episode) -> np.ndarray:
    """link_array(link_counts(ep)), the same array, built without a Python object per link (the report facts'
    links: 411k on the oracle grid): the sends of one sender to one recipient list (a broadcast's every message)
    summed first, then every (sender, receiver) of the row stream laid out in numpy, summed per pair and
    ordered by the pair's first row (where no pair has two rows, as in most logs, the rows are the links as
    they are). A log of few rows takes link_counts itself (numpy's fixed cost is more)."""
    s, to, k, c = [], [], [], []  # per segment of the row stream: sender, receivers, rows, characters
    spread: dict[tuple, int] = {}  # (sender, receivers) of a send: its segment
    for kind, agent, receivers, chars, sender in map(_FIELDS, ep.events):
        if kind == "send":
            key = (agent, tuple(receivers or ()))
            g = spread.get(key)
            if g is None:
                spread[key] = len(s)
                s.append(agent)
                to.append(key[1])
                k.append(1)
                c.append(chars)
            else:
                k[g] += 1
                c[g] += chars
        elif kind == "write" or (kind == "read" and sender is not None and sender != agent):
            s.append(agent if kind == "write" else sender)
            to.append(_WRITE if kind == "write" else (agent,))
            k.append(1)
            c.append(chars)
    lens = np.fromiter(map(len, to), np.int64, len(to))
    total = int(lens.sum())
    if total < SMALL_LOG:
        return link_array(link_counts(ep))
    s, k, c = (np.repeat(np.array(x, np.int64), lens) for x in (s, k, c))
    r = np.fromiter(chain.from_iterable(to), np.int64, total)
    mine = r != s  # a send to itself is no row (a write's receiver is NONE, a read's never its sender)
    if not mine.all():
        s, r, k, c = s[mine], r[mine], k[mine], c[mine]
    if not len(s):
        return np.zeros((4, 0), np.int64)
    some = r != NONE
    low = int(r[some].min()) if some.any() else 0
    code = np.where(some, r - low + 1, 0)  # a write's receiver: 0
    pair = (s - s.min()) * (int(code.max()) + 1) + code
    ordered = np.sort(pair)
    if not (ordered[1:] == ordered[:-1]).any():  # no pair twice: each row is its own link, in its row's place
        return np.stack([s, r, k, c])
    _, first, inv = np.unique(pair, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rows = np.bincount(inv, weights=k)  # exact: float64 holds integers to 2^53
    chars = np.bincount(inv, weights=c)
    return np.stack([s[first[order]], r[first[order]], rows[order].astype(np.int64), chars[order].astype(np.int64)])


def link_summary_array(a: np.ndarray, n: int) -> tuple[set[Edge], list[int], list[int]]:
    """link_summary of a link_array: the same edges, messages and characters received per agent."""
    s, r, k, c = a
    sent = r != NONE
    edges = set(zip(s[sent].tolist(), r[sent].tolist(), strict=True))
    mine = sent & (r >= 0) & (r < n)
    got = np.bincount(r[mine], weights=k[mine], minlength=n)  # exact: float64 holds integers to 2^53
    chars = np.bincount(r[mine], weights=c[mine], minlength=n)
    return edges, got.astype(np.int64).tolist(), chars.astype(np.int64).tolist()


def edges_of(rows: list[dict]) -> set[Edge]:
    """Empirical directed edges: a message sent, or a file read by another agent."""
    return {(r["sender"], r["receiver"]) for r in rows if r["receiver"] is not None}


def received_counts(rows: list[dict], n: int) -> list[int]:
    """Messages received per agent (sends addressed to it, reads of others' files)."""
    c = Counter(r["receiver"] for r in rows if r["receiver"] is not None)
    return [c.get(a, 0) for a in range(n)]


def received_chars(rows: list[dict], n: int) -> list[int]:
    """Characters received per agent (sends addressed to it, reads of others' files)."""
    c: Counter = Counter()
    for r in rows:
        if r["receiver"] is not None:
            c[r["receiver"]] += r["chars"]
    return [c.get(a, 0) for a in range(n)]
