"""metrics.aggregate does each group's arithmetic on numpy arrays: the same table, to the bit, as the
per-group polars computation it replaced (written out here), on frames with the awkward cases: missing
values, NaN, -0.0, repeated and missing instance ids, errored and status-less episodes, one-episode groups."""

import math

import numpy as np
import polars as pl
import pytest

from silo.metrics import RATES, SHARES, aggregate, estimate
from silo.stats import cluster_bootstrap, wilson


def _reference_estimate(col: str, g: pl.DataFrame):
    x, clusters = g.get_column(col), g.get_column("instance_id")
    keep = x.is_not_null() & clusters.is_not_null()
    x, clusters = x.filter(keep), clusters.filter(keep)
    if col in RATES and clusters.n_unique() == len(clusters):
        return wilson(int(x.cast(pl.Int64).sum() or 0), len(x))
    return cluster_bootstrap(x.cast(pl.Float64).to_numpy(), clusters.to_numpy(), share=col in SHARES or col in RATES)


def _reference(eps: pl.DataFrame, by: list[str], metrics: list[str], intervals: list[str]) -> list[dict]:
    rows = []
    for key, g in eps.partition_by(by, as_dict=True, maintain_order=True).items():
        ok = g.filter(pl.col("status") != "error")
        row = dict(zip(by, key, strict=True)) | {
            "episodes": len(ok), "instances": ok.get_column("instance_id").n_unique(), "errors": len(g) - len(ok)}
        for m in metrics:
            if m in intervals:
                e = _reference_estimate(m, ok)
                row |= {m: e.value, f"{m}_lo": e.lo, f"{m}_hi": e.hi} | ({f"{m}_n": e.n} if m in RATES else {})
            else:
                x = ok.get_column(m).drop_nulls().cast(pl.Float64)
                row[m] = float(x.mean()) if len(x) else math.nan
        rows.append(row)
    return sorted(rows, key=lambda r: tuple(r[c] for c in by))


def _frame(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda values, p=None: [values[i] for i in rng.choice(len(values), n, p=p)]  # noqa: E731
    s = rng.random(n) * 10.0 ** rng.integers(-3, 4, n)
    s[rng.random(n) < 0.05] = np.nan
    s[rng.random(n) < 0.05] = -0.0
    density = rng.normal(size=n)
    density[rng.random(n) < 0.05] = -0.0
    return pl.DataFrame({
        "team": pick(["a", "b", "c", "d"]), "level": pick(["I", "II", "III"]), "n_agents": pick([1, 2, 5, 10, 20]),
        "instance_id": pick(["i-03", "i-1", "i-2", "i-10", "é", None], [0.25, 0.2, 0.2, 0.2, 0.1, 0.05]),
        "status": pick(["complete", "max_rounds", "error", None], [0.6, 0.2, 0.15, 0.05]),
        "S": [None if rng.random() < 0.1 else float(v) for v in s],
        "gap": (rng.random(n) - 0.5).tolist(),
        "solved": [None if rng.random() < 0.1 else bool(v) for v in rng.random(n) < 0.5],
        "messages": [None if rng.random() < 0.2 else int(v) for v in rng.integers(0, 10**6, n)],
        "density": [None if rng.random() < 0.2 else float(v) for v in density],
    })


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("by", [["team"], ["team", "level"], ["team", "level", "n_agents"]])
def test_aggregate_is_the_per_group_polars_computation_to_the_bit(seed, by):
    eps = _frame(seed, 300)
    metrics, intervals = ["S", "gap", "solved", "messages", "density"], ["S", "gap", "solved"]
    got = aggregate(eps, by, metrics=metrics, intervals=intervals).to_dicts()
    want = _reference(eps, by, metrics, intervals)
    assert [list(r) for r in got] == [list(r) for r in want]
    bad = [(r[c], w[c], c) for r, w in zip(got, want, strict=True) for c in r if not _same(r[c], w[c])]
    assert not bad, bad[:5]
    assert any(r["S_lo"] == r["S_lo"] for r in got)  # some groups were bootstrapped, not only one-value ones


def test_estimate_of_a_frame_is_the_reference():
    eps = _frame(99, 200).filter(pl.col("status") != "error")
    for col in ("S", "gap", "solved"):
        got, want = estimate(col, eps), _reference_estimate(col, eps)
        assert all(_same(a, b) for a, b in zip((got.value, got.lo, got.hi, got.n, got.method),
                                               (want.value, want.lo, want.hi, want.n, want.method), strict=True))
