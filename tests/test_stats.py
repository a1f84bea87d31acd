"""Intervals and paired tests against hand computation and scipy's independent implementations."""

import math

import numpy as np
import pytest
from scipy import stats as st

from silo import stats
from silo.stats import cluster_bootstrap, mcnemar_exact, paired, ratio_bootstrap, wilcoxon_paired, wilson, wilson_share

Z = 1.959963984540054  # standard normal 97.5% quantile


def test_wilson_hand_computed():
    # k = 3, n = 10 worked by hand: centre = (0.3 + z^2/20) / (1 + z^2/10), half = z sqrt(0.021 + z^2/400) / (...)
    denom = 1 + Z * Z / 10
    centre = (0.3 + Z * Z / 20) / denom
    half = Z * math.sqrt(0.3 * 0.7 / 10 + Z * Z / 400) / denom
    e = wilson(3, 10)
    assert e.value == 0.3
    assert e.lo == pytest.approx(centre - half, abs=1e-12) and e.lo == pytest.approx(0.10779, abs=1e-5)
    assert e.hi == pytest.approx(centre + half, abs=1e-12) and e.hi == pytest.approx(0.60322, abs=1e-5)


def test_wilson_degenerate_all_correct_and_all_wrong():
    # closed forms at the ends: k = n gives [n / (n + z^2), 1]; k = 0 gives [0, z^2 / (n + z^2)]
    full, none = wilson(10, 10), wilson(0, 10)
    assert (full.value, full.hi) == (1.0, 1.0)
    assert full.lo == pytest.approx(10 / (10 + Z * Z), abs=1e-12)
    assert (none.value, none.lo) == (0.0, 0.0)
    assert none.hi == pytest.approx(Z * Z / (10 + Z * Z), abs=1e-12)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (1, 2), (7, 13), (50, 100), (99, 100), (3, 1000)])
def test_wilson_matches_scipy(k, n):
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    e = wilson(k, n)
    assert e.lo == pytest.approx(ci.low, abs=1e-9)
    assert e.hi == pytest.approx(ci.high, abs=1e-9)


def test_wilson_bad_input():
    with pytest.raises(ValueError):
        wilson(5, 3)
    with pytest.raises(ValueError):
        wilson(-1, 3)
    assert math.isnan(wilson(0, 0).value)


def test_mcnemar_hand_computed():
    # b = 1, c = 6: two-sided exact = 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * (1 + 7) / 128
    assert mcnemar_exact(1, 6) == pytest.approx(16 / 128)
    assert mcnemar_exact(6, 1) == pytest.approx(16 / 128)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0  # capped at 1
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pairs: no evidence either way
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@pytest.mark.parametrize("b,c", [(2, 9), (10, 4), (0, 12), (25, 30)])
def test_mcnemar_matches_scipy_binomtest(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(st.binomtest(b, b + c, 0.5).pvalue, abs=1e-12)


def test_wilcoxon_hand_computed():
    # five positive differences with distinct ranks: exact two-sided p = 2 / 2^5
    p, n = wilcoxon_paired([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert (p, n) == (pytest.approx(2 / 32), 5)
    # zero differences are dropped; all zero means no evidence
    assert wilcoxon_paired([1, 1, 1], [1, 1, 1]) == (1.0, 0)
    p, n = wilcoxon_paired([1, 2, 3, 4, 5, 0], [0, 0, 0, 0, 0, 0])
    assert n == 5 and p == pytest.approx(2 / 32)


def test_paired_known_discordant_pairs():
    # 8 matched units: both succeed in 2, A only in 5, B only in 0, neither in 1 -> McNemar 2 * (1/2)^5
    a = [1, 1, 1, 1, 1, 1, 1, 0]
    b = [1, 1, 0, 0, 0, 0, 0, 0]
    r = paired(a, b, a, b, clusters=list(range(8)))
    assert (r.n, r.both, r.a_only, r.b_only, r.neither) == (8, 2, 5, 0, 1)
    assert r.mcnemar_p == pytest.approx(2 / 32)
    assert r.mean_a == pytest.approx(7 / 8) and r.mean_b == pytest.approx(2 / 8)
    assert r.diff.value == pytest.approx(5 / 8)
    assert r.diff.lo <= 5 / 8 <= r.diff.hi
    assert r.wilcoxon_n == 5 and r.wilcoxon_p == pytest.approx(2 / 32)


def test_cluster_bootstrap_degenerate_shares_use_wilson_over_clusters():
    ones = cluster_bootstrap([1.0] * 30, [i // 3 for i in range(30)], share=True)  # 10 clusters of 3
    assert ones.method == "wilson-clusters"
    assert (ones.value, ones.hi) == (1.0, 1.0)
    assert ones.lo == pytest.approx(10 / (10 + Z * Z))
    zeros = cluster_bootstrap([0.0] * 30, [i // 3 for i in range(30)], share=True)
    assert (zeros.value, zeros.lo) == (0.0, 0.0)
    assert zeros.hi == pytest.approx(Z * Z / (10 + Z * Z))
    # two clusters, one all-correct and one all-wrong: Wilson for 1 of 2
    half = cluster_bootstrap([0, 0, 0, 1, 1, 1], list("aaabbb"), share=True)
    w = wilson(1, 2)
    assert (half.value, half.lo, half.hi) == (0.5, w.lo, w.hi)


def test_identical_non_binary_clusters_never_give_a_zero_width_share_interval():
    # two replicates of the same instance set both scoring 14/15: the bootstrap has nothing to resample
    e = cluster_bootstrap([14 / 15] * 2, ["a", "b"], share=True)
    assert e.method == "wilson-clusters" and e.lo < 14 / 15 < e.hi
    # the same Wilson formula as for integer counts (here 1 of 2 as a proportion)
    assert wilson_share(0.5, 2) == pytest.approx((wilson(1, 2).lo, wilson(1, 2).hi))
    mean = cluster_bootstrap([3.0] * 4, list("abcd"))  # a mean that is not a share keeps the point
    assert mean.lo == mean.hi == 3.0


def test_cluster_bootstrap_resamples_whole_clusters():
    # two clusters with means 0 and 1: any resample has mean 0, 1/2 or 1, so the interval is [0, 1]
    e = cluster_bootstrap([0, 0, 0, 1, 1, 1], list("aaabbb"))
    assert (e.value, e.lo, e.hi) == (0.5, 0.0, 1.0)
    rng = np.random.default_rng(1)
    vals = rng.uniform(size=40)
    indep = cluster_bootstrap(np.repeat(vals, 3), np.arange(120))  # 120 "independent" copies
    clustered = cluster_bootstrap(np.repeat(vals, 3), np.repeat(np.arange(40), 3))  # 40 clusters of 3 copies
    assert indep.value == pytest.approx(vals.mean()) == clustered.value
    assert indep.lo < vals.mean() < indep.hi
    # ignoring the clustering would understate the uncertainty by about sqrt(3)
    assert (clustered.hi - clustered.lo) > 1.4 * (indep.hi - indep.lo)


def test_cluster_bootstrap_edge_cases():
    assert math.isnan(cluster_bootstrap([], []).value)
    one = cluster_bootstrap([0.2, 0.4], ["x", "x"])
    assert one.value == pytest.approx(0.3) and math.isnan(one.lo)  # one cluster: no interval
    nan_dropped = cluster_bootstrap([1.0, float("nan"), 0.0], [1, 2, 3])
    assert nan_dropped.n == 2 and nan_dropped.value == 0.5
    with pytest.raises(ValueError):
        cluster_bootstrap([1, 2], [1])


def test_ratio_bootstrap_is_rcc():
    # RCC = 1 - mean(S_k) / mean(S_1): tasks with S_1 = 1 and S_k = 0.5 give 0.5
    e = ratio_bootstrap([0.5, 0.5, 0.5], [1.0, 1.0, 1.0])
    assert e.value == pytest.approx(0.5) and e.lo == pytest.approx(0.5) and e.hi == pytest.approx(0.5)
    e = ratio_bootstrap([0.0, 1.0], [1.0, 1.0])
    assert e.value == pytest.approx(0.5) and (e.lo, e.hi) == (0.0, 1.0)
    assert math.isnan(ratio_bootstrap([0.3], [0.0]).value)  # no baseline success: undefined


def test_normal_quantile_is_scipys_to_the_bit():
    from silo.stats import _z

    assert _z(0.95) == float(st.norm.ppf(0.975))
    assert _z(0.9) == float(st.norm.ppf(0.95))


@pytest.mark.parametrize("seed", range(12))
def test_cluster_bootstrap_is_scipys_bootstrap_to_the_bit(seed):
    # the interval is computed without scipy (slow to import); it must equal scipy.stats.bootstrap's exactly
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    clusters = rng.integers(0, max(2, n // int(rng.integers(1, 4))), n)
    values = rng.choice([0.0, 0.25, 0.5, 1.0], n) if seed % 2 else rng.normal(0, 1, n)
    for conf in (0.95, 0.9):
        got = cluster_bootstrap(values, clusters, conf=conf, n_resamples=2000 - 17 * seed)
        _, idx = np.unique(clusters, return_inverse=True)
        sums, counts = np.bincount(idx, weights=values), np.bincount(idx).astype(float)
        ref = st.bootstrap((sums, counts), lambda s, c, axis=-1: np.sum(s, axis=axis) / np.sum(c, axis=axis),
                           paired=True, vectorized=True, n_resamples=2000 - 17 * seed, confidence_level=conf,
                           method="percentile", rng=np.random.default_rng(20240601)).confidence_interval
        assert (got.lo, got.hi) == (float(ref.low), float(ref.high))


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("x", [0.0, 1.0, -0.0, 0.5, 3.25, float("nan")])
def test_cluster_bootstrap_of_one_value_is_the_general_computation(x, share):
    """A single value takes a short path (most cells of a report's summary hold one episode): same estimate."""
    one = stats.cluster_bootstrap([x], ["i0"], share=share)
    general = stats._clustered(np.array([x]), np.array(["i0"]), stats.CONF, stats.N_RESAMPLES, stats.SEED, share)
    assert one.as_dict() == general.as_dict()
    assert math.copysign(1, one.value) == math.copysign(1, general.value) or math.isnan(x)


def test_cluster_bootstrap_of_distinct_clusters_is_scipys_to_the_bit():
    """Every cluster one observation (the short count path), each k drawn twice (the second from the cache)."""
    for k in (3, 30, 3, 30, 700):
        rng = np.random.default_rng(k)
        values = rng.normal(0, 1, k)
        for _ in range(2):
            got = cluster_bootstrap(values, np.arange(k))
            ref = st.bootstrap((values, np.ones(k)), lambda s, c, axis=-1: np.sum(s, axis=axis) / np.sum(c, axis=axis),
                               paired=True, vectorized=True, n_resamples=2000, confidence_level=0.95,
                               method="percentile", rng=np.random.default_rng(20240601)).confidence_interval
            assert (got.lo, got.hi) == (float(ref.low), float(ref.high))
