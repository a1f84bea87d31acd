"""III-30 matrix multiply: N x N matrices, entries 1..10; agent i holds row i of A, B is public; answer C = A.B."""

from __future__ import annotations

import json

import numpy as np

from silo.evidence import AllOf, Items
from silo.tasks import register
from silo.tasks.base import as_int_list
from silo.tasks.common import ShuffleTask, as_list, ordered_partial


def _row_fp(index: int, row: list[int]) -> Items:
    """A row recognised as an ordered run; a row shorter than 3 (N <= 2) must come after its row index."""
    return Items(tuple(row) if len(row) >= 3 else (index, *row), ordered=True)


def _exact_int_matrix(x) -> bool:
    return type(x) is list and all(type(r) is list and all(type(v) is int for v in r) for r in x)


@register
class MatrixMultiply(ShuffleTask):
    """Every agent submits the full product C = A.B (N x N, integers), as a list of rows.

    Decisions: every agent holds row i of A; B is the same for everyone, so it is a public
    parameter stated in the task description (each agent sees all of B, as in the reference)
    rather than copied into N shards. The answer stays global (the full C): segmenting it by rows
    would let each agent answer from its own row alone (no communication). Size: at N = 100, C
    is about 50,000 characters of JSON, under the 65,536-character message limit (tested).
    Partial credit: LCS over rows (a row counts only if entirely right) / N. Oracle partial:
    the agent's row of C (its row of A times B, a sufficient statistic given B). Evidence of a
    shard: its row of A, or its row of C, as an ordered run (a row of 2 must follow its row index);
    of all shards: C in row-major order.
    """

    id = "III-30"
    slug = "matrix-multiply"
    name = "matrix multiply"
    level = 3
    version = 1
    answer_format = "a JSON list of N rows, each a list of N integers: [[c00, c01, ...], [c10, ...], ...]"
    oracle = "star"
    hint = ("Row-block multiply: each agent computes its row of C = (row of A) x B locally, then the rows are "
            "all-gathered so everyone holds C (all-to-all shuffle).")

    def generate(self, n_agents, rng):
        a = [[rng.randint(1, 10) for _ in range(n_agents)] for _ in range(n_agents)]
        b = [[rng.randint(1, 10) for _ in range(n_agents)] for _ in range(n_agents)]
        return [{"row": i, "a": a[i]} for i in range(n_agents)], {"b": b}

    def solve(self, shards, params):
        a = np.array([s["a"] for s in shards], dtype=np.int64)
        c = (a @ np.array(params["b"], dtype=np.int64)).tolist()
        return [c] * len(shards)

    def describe(self, n_agents, params):
        n = n_agents
        return (f"A and B are {n} x {n} matrices of integers (rows and columns numbered from 0). Agent i holds "
                f"row i of A. B is known to every agent: B = {json.dumps(params['b'], separators=(',', ':'))} "
                "(a list of rows). Every agent must submit the full matrix product C = A x B, where "
                f"C[i][j] = sum over k of A[i][k] * B[k][j], as a list of {n} rows of {n} integers.")

    def render_shard(self, data, agent, params):
        return f"Your row of A (row {data['row']}): " + json.dumps(data["a"])

    def check(self, answer, truth):
        if _exact_int_matrix(answer) and answer == truth:  # fast path: C has up to 10,000 entries
            return True, 1.0
        rows = as_list(answer)
        if rows is None:
            return False, 0.0
        rows = [as_int_list(r) for r in rows]
        if rows == truth:
            return True, 1.0
        return False, ordered_partial(rows, truth, lambda r: None if r is None else tuple(r))

    def raw_fingerprint(self, inst, j, i):
        d = inst.shards[j].data
        return _row_fp(d["row"], d["a"])

    def stat_fingerprint(self, inst, agents, i):
        c = inst.truth[i]
        if agents >= self.depends_on(inst, i):
            return Items(tuple(x for r in c for x in r), ordered=True)
        rows = sorted(inst.shards[j].data["row"] for j in agents)
        return AllOf(tuple(_row_fp(r, c[r]) for r in rows))

    def partial(self, data, agent, params):
        row = (np.array(data["a"], dtype=np.int64) @ np.array(params["b"], dtype=np.int64)).tolist()
        return {"row": data["row"], "c": row}

    def combine(self, partials, params):
        c = [p["c"] for p in sorted(partials, key=lambda p: p["row"])]
        return [c] * len(partials)
