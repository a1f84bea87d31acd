"""Uncertainty: Wilson intervals for rates, cluster bootstrap for means, exact paired tests.

Every function is pure (numbers and arrays in, numbers out) and documented in docs/metrics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CONF = 0.95
N_RESAMPLES = 2000
SEED = 20240601  # fixed so that reports are reproducible to the digit


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval (bounds are NaN when no interval exists)."""

    value: float
    lo: float
    hi: float
    n: int
    method: str

    def as_dict(self) -> dict:
        """JSON-ready dict; NaN becomes None."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(self).items()}


NAN = float("nan")
_Z = {0.95: 1.959963984540054}  # scipy.stats.norm.ppf(0.975), to the bit (tests/test_stats.py checks it)


def _z(conf: float) -> float:
    """The two-sided normal quantile of `conf`; scipy (slow to import) only for an unusual level."""
    if conf not in _Z:
        from scipy import stats as st

        _Z[conf] = float(st.norm.ppf(1 - (1 - conf) / 2))
    return _Z[conf]


def wilson(k: int, n: int, conf: float = CONF) -> Estimate:
    """Wilson score interval for k successes out of n trials."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0, "wilson")
    z = _z(conf)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # clamp the round-off at the ends: k = 0 gives lo = 0 exactly, k = n gives hi = 1 exactly
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return Estimate(p, lo, hi, n, "wilson")


def wilson_share(p: float, n: int, conf: float = CONF) -> tuple[float, float]:
    """Wilson bounds for an observed proportion p (not necessarily k/n with integer k) over n trials."""
    z = _z(conf)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_bootstrap(values, clusters, conf: float = CONF, n_resamples: int = N_RESAMPLES,
                      seed: int = SEED, share: bool = False) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval that resamples whole clusters.

    Observations sharing a cluster (e.g. the same instance run under several protocols)
    are resampled together, so their correlation widens the interval as it should.
    With `share=True` (values in [0, 1]) and every cluster mean exactly 0 or 1, the
    bootstrap would collapse to a point; the Wilson interval over clusters is used instead.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(clusters)
    if v.shape != c.shape or v.ndim != 1:
        raise ValueError("values and clusters must be 1-D arrays of the same length")
    if len(v) == 1:  # one observation (a report cell of one episode): _clustered's result without numpy's overhead
        return _one(float(v[0]) + 0.0, conf, share)  # + 0.0: numpy's mean of [-0.0] is 0.0
    return _clustered(v, c, conf, n_resamples, seed, share)


def _clustered(v: np.ndarray, c: np.ndarray, conf: float, n_resamples: int, seed: int, share: bool) -> Estimate:
    """cluster_bootstrap of checked arrays."""
    keep = ~np.isnan(v)
    v, c = v[keep], c[keep]
    if len(v) == 0:
        return Estimate(NAN, NAN, NAN, 0, "bootstrap")
    _, idx = np.unique(c, return_inverse=True)
    sums = np.bincount(idx, weights=v)
    counts = np.bincount(idx).astype(float)
    mean = float(v.mean())
    k = len(sums)
    if share:
        means = sums / counts
        if np.all((means == 0) | (means == 1)):
            w = wilson(int(means.sum()), k, conf)
            return Estimate(mean, w.lo, w.hi, len(v), "wilson-clusters")
    if k < 2:
        return Estimate(mean, NAN, NAN, len(v), "bootstrap")
    if np.allclose(sums / counts, mean, rtol=0, atol=1e-12):  # clusters identical: the bootstrap collapses
        if share:  # a share is a proportion: Wilson with the clusters as the trials, never zero-width
            lo, hi = wilson_share(mean, k, conf)
            return Estimate(mean, lo, hi, len(v), "wilson-clusters")
        return Estimate(mean, mean, mean, len(v), "bootstrap")
    lo, hi = _percentile_bootstrap(sums, counts, conf, n_resamples, seed)
    return Estimate(mean, lo, hi, len(v), "bootstrap")


def _one(x: float, conf: float, share: bool) -> Estimate:
    """cluster_bootstrap of a single value: one cluster, so no bootstrap interval; a 0 or 1 share gets Wilson's."""
    if math.isnan(x):
        return Estimate(NAN, NAN, NAN, 0, "bootstrap")
    if share and x in (0.0, 1.0):
        w = wilson(int(x), 1, conf)
        return Estimate(x, w.lo, w.hi, 1, "wilson-clusters")
    return Estimate(x, NAN, NAN, 1, "bootstrap")


@lru_cache(maxsize=8)
def _cached_draws(k: int, n_resamples: int, seed: int) -> np.ndarray:
    idx = np.random.default_rng(seed).integers(0, k, (n_resamples, k), dtype="int64")
    idx.setflags(write=False)
    return idx


def _draws(k: int, n_resamples: int, seed: int) -> np.ndarray:
    """The resampled cluster positions (n_resamples x k): they depend only on k, the count and the seed, and a
    report's tables draw them for the same k again and again (half a bootstrap's time); kept for small k."""
    if k * n_resamples <= 128 * N_RESAMPLES:  # at most 2 MB each, 16 MB in all
        return _cached_draws(k, n_resamples, seed)
    return np.random.default_rng(seed).integers(0, k, (n_resamples, k), dtype="int64")


def _percentile_bootstrap(sums, counts, conf: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """The percentile interval of sum(sums) / sum(counts) over resampled clusters: the same draws and
    arithmetic as scipy.stats.bootstrap(paired=True, vectorized=True, method="percentile") with
    rng=np.random.default_rng(seed) (tests/test_stats.py compares the two), without importing scipy."""
    idx = _draws(len(sums), n_resamples, seed)
    # clusters of one observation each: every resample's count is k, summed exactly (integers far below 2^53)
    n_obs = float(len(sums)) if (counts == 1).all() else np.sum(counts[idx], axis=-1)
    theta = np.sort(np.sum(sums[idx], axis=-1) / n_obs)
    alpha = np.asarray((1 - conf) / 2, dtype=float)
    p = np.stack((alpha, 1 - alpha))
    n = float(len(theta))
    jg = p * n + (1 - p)  # Hyndman-Fan type 7 ("linear"), as scipy.stats.quantile computes it
    j = jg // 1 - 1
    g = np.where(j < 0, 0.0, jg % 1)
    j, jp1 = np.clip(j, 0, n - 1).astype(np.int64), np.clip(jg // 1, 0, n - 1).astype(np.int64)
    q = (1 - g) * theta[j] + g * theta[jp1]
    return float(q[0]), float(q[1])


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts b (A only) and c (B only)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    from scipy import stats as st

    return float(min(1.0, 2 * st.binom.cdf(min(b, c), b + c, 0.5)))


def wilcoxon_paired(x, y) -> tuple[float, int]:
    """Two-sided Wilcoxon signed-rank p-value of x - y (zero differences dropped) and the pairs used."""
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if d.shape[0] != np.asarray(y).shape[0]:
        raise ValueError("x and y must have the same length")
    nz = int(np.count_nonzero(np.abs(d) > 1e-12))
    if nz == 0:
        return 1.0, 0
    from scipy import stats as st

    res = st.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return float(res.pvalue), nz


@dataclass(frozen=True)
class Paired:
    """Paired comparison of configurations A and B on matched units."""

    n: int
    both: int
    a_only: int
    b_only: int
    neither: int
    mcnemar_p: float
    mean_a: float
    mean_b: float
    diff: Estimate
    wilcoxon_p: float
    wilcoxon_n: int


def paired(success_a, success_b, score_a, score_b, clusters) -> Paired:
    """Exact McNemar on binary success, Wilcoxon and a cluster-bootstrap mean difference on scores."""
    sa, sb = np.asarray(success_a, dtype=bool), np.asarray(success_b, dtype=bool)
    xa, xb = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    if not (len(sa) == len(sb) == len(xa) == len(xb) == len(clusters)):
        raise ValueError("paired inputs must all have the same length")
    b, c = int(np.sum(sa & ~sb)), int(np.sum(~sa & sb))
    wp, wn = wilcoxon_paired(xa, xb)
    return Paired(
        n=len(sa), both=int(np.sum(sa & sb)), a_only=b, b_only=c, neither=int(np.sum(~sa & ~sb)),
        mcnemar_p=mcnemar_exact(b, c), mean_a=float(xa.mean()) if len(xa) else NAN,
        mean_b=float(xb.mean()) if len(xb) else NAN,
        diff=cluster_bootstrap(xa - xb, np.asarray(clusters)), wilcoxon_p=wp, wilcoxon_n=wn,
    )


def ratio_bootstrap(num, den, conf: float = CONF, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Estimate:
    """1 - mean(num) / mean(den) over paired units (e.g. tasks), bootstrap over units: the RCC."""
    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if a.shape != b.shape:
        raise ValueError("num and den must have the same length")
    if len(a) == 0 or b.mean() == 0:
        return Estimate(NAN, NAN, NAN, len(a), "bootstrap")
    value = float(1 - a.mean() / b.mean())
    if len(a) < 2:
        return Estimate(value, NAN, NAN, len(a), "bootstrap")
    # resample units by hand: a resample whose baseline mean is 0 has no ratio and is dropped
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_resamples, len(a)))
    den_m = b[idx].mean(axis=1)
    ok = den_m > 0
    draws = 1 - a[idx].mean(axis=1)[ok] / den_m[ok]
    tail = 100 * (1 - conf) / 2
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return Estimate(value, float(lo), float(hi), len(a), "bootstrap")
