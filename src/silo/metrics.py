"""Metric functions: communication structure of one episode, and grouped headline metrics with intervals.

Definitions (and the interval methods) are documented in docs/metrics.md.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from silo.links import (  # noqa: F401 - the message grain, split out: importable from here as before
    MESSAGE_KINDS,
    NONE,
    SMALL_LOG,
    Edge,
    _messages,
    edges_of,
    link_array,
    link_array_of,
    link_counts,
    link_summary,
    link_summary_array,
    message_rows,
    received_chars,
    received_counts,
)
from silo.records import OUTCOMES
from silo.stats import Estimate, cluster_bootstrap, paired, ratio_bootstrap, wilson

if TYPE_CHECKING:  # polars is imported by the functions that use it: scoring imports this module without it
    import polars as pl

LEADER_FACTOR = 1.5
LEADER_MIN_SHARE = 0.5  # a leader receives messages from at least half of the others (and >= 2 messages) ...
LEADER_MIN_CHARS = 20  # ... of at least this many characters per required message on average

# ---- communication structure of one episode ------------------------------------------------


def _star(n: int) -> set[Edge]:
    return {(k, 0) for k in range(1, n)} | {(0, k) for k in range(1, n)}


def _tree(n: int) -> set[Edge]:
    # binary heap order: partials flow child -> parent, the answer flows back down
    return {(k, (k - 1) // 2) for k in range(1, n)} | {((k - 1) // 2, k) for k in range(1, n)}


def _chain(n: int) -> set[Edge]:
    return {(k, k + 1) for k in range(n - 1)}


def _halo(n: int) -> set[Edge]:
    return _chain(n) | {(k + 1, k) for k in range(n - 1)}


def _all(n: int) -> set[Edge]:
    return {(a, b) for a in range(n) for b in range(n) if a != b}


TOPOLOGIES = {"star": _star, "tree": _tree, "chain": _chain, "halo": _halo, "all-to-all": _all}
# keywords of free-text optimal_topology values
_KEYWORDS = [("star", "star"), ("gather", "star"), ("reduce", "star"), ("tree", "tree"), ("chain", "chain"),
             ("pipeline", "chain"), ("prefix", "chain"), ("halo", "halo"), ("neighbo", "halo"), ("mesh", "halo"),
             ("all-to-all", "all-to-all"), ("all to all", "all-to-all"), ("shuffle", "all-to-all"),
             ("complete", "all-to-all")]


def topology_kind(topology: str | None) -> str | None:
    """Canonical topology name (star, tree, chain, halo, all-to-all) of a task's optimal_topology text."""
    if not topology:
        return None
    t = topology.strip().lower()
    if t in TOPOLOGIES:
        return t
    # the keyword that appears first wins: "tree reduce" is a tree, "chain of neighbour exchanges" a chain
    hits = [(t.find(word), kind) for word, kind in _KEYWORDS if word in t]
    return min(hits)[1] if hits else None


def optimal_edges(topology: str | None, n: int) -> set[Edge] | None:
    """Directed edges (sender, receiver) of an optimal topology for N agents; None if unknown or N = 1."""
    kind = topology_kind(topology)
    if kind is None or n < 2:
        return None
    return TOPOLOGIES[kind](n)


def task_optimal_edges(task, n: int) -> set[Edge] | None:
    """A task's own optimal_edges(n) if it defines one, else derived from its optimal_topology."""
    own = getattr(task, "optimal_edges", None)
    if callable(own):
        edges = own(n)
        return None if edges is None else {(int(a), int(b)) for a, b in edges}
    return optimal_edges(getattr(task, "optimal_topology", None), n)


def leaders(received: list[int], factor: float = LEADER_FACTOR, chars: list[int] | None = None) -> list[int]:
    """Emergent leaders: agents receiving more than factor x the mean received over all agents, with a
    minimum volume: at least m = max(2, ceil(half of the other agents)) messages and (when `chars` is
    given) 20 * m characters, so one short message in a quiet episode does not make a leader."""
    if not received:
        return []
    mean = sum(received) / len(received)
    least = max(2, math.ceil(LEADER_MIN_SHARE * (len(received) - 1)))
    return [a for a, r in enumerate(received) if mean > 0 and r > factor * mean and r >= least
            and (chars is None or chars[a] >= LEADER_MIN_CHARS * least)]


def jaccard(a: set, b: set | None) -> float | None:
    """|a & b| / |a | b|; None when b is unknown or both are empty."""
    if b is None or not (a or b):
        return None
    return len(a & b) / len(a | b)


def redundancy(messages: int, optimal: int | None) -> float | None:
    """Redundancy ratio M_total / M_optimal; None when the optimum is 0 or unknown."""
    return messages / optimal if optimal else None


# ---- grouped metrics with intervals ---------------------------------------------------------

SHARES = ["S", "P", "H", *OUTCOMES, "no_answer_held"]
SIGNED = ["gap"]
RATES = ["solved", "consensus_failure", "unanimous", "has_leader"]
MEANS = ["rounds", "rounds_to_completion", "messages", "density", "redundancy", "fidelity",
         "tokens_in_per_round", "tokens_out_per_round", "cost_usd"]
CORE = ["S", "P", "H", "gap", "solved", "consensus_failure", "unanimous"]


def estimate(col: str, g: pl.DataFrame) -> Estimate:
    """Estimate of one metric over episodes, with the interval method of docs/metrics.md.

    Rates (episode-level yes/no) get a Wilson interval when every episode is a distinct instance;
    when instances repeat (e.g. protocols pooled), they and all means are resampled by instance."""
    cols = _Columns(g, [col])
    return cols.estimate(col, np.arange(len(g)))


class _Columns:
    """A frame's metric columns and instance ids as numpy arrays, taken once: `aggregate` then does each
    group's arithmetic on row positions (no polars query per metric and group), with the same numbers."""

    def __init__(self, df: pl.DataFrame, metrics: list[str]):
        import polars as pl

        ids = df.get_column("instance_id")
        self.id_null = ids.is_null().to_numpy()
        self.ids = np.full(len(df), -1, dtype=np.int64)  # codes in the ids' sorted order: np.unique's order
        if (~self.id_null).any():
            self.ids[~self.id_null] = np.unique(ids.drop_nulls().to_numpy(), return_inverse=True)[1].ravel()
        self.null = {m: df.get_column(m).is_null().to_numpy() for m in metrics}
        self.f64 = {m: df.get_column(m).cast(pl.Float64).to_numpy() for m in metrics}
        self.df, self.i64 = df, {}  # a rate's yes/no as counts, when its Wilson interval first needs them

    def instances(self, rows: np.ndarray) -> int:
        """Distinct instance ids at `rows` (a missing id counts as one value, as polars' n_unique)."""
        return len(np.unique(self.ids[rows]))

    def estimate(self, col: str, rows: np.ndarray) -> Estimate:
        """`estimate` of `col` over the frame's `rows`."""
        import polars as pl

        rows = rows[~(self.null[col][rows] | self.id_null[rows])]
        clusters = self.ids[rows]
        if col in RATES and len(np.unique(clusters)) == len(clusters):
            if col not in self.i64:
                self.i64[col] = self.df.get_column(col).cast(pl.Int64).fill_null(0).to_numpy()
            return wilson(int(self.i64[col][rows].sum()), len(rows))
        return cluster_bootstrap(self.f64[col][rows], clusters, share=col in SHARES or col in RATES)


def _plain_means(cols: _Columns, rows: np.ndarray, df: pl.DataFrame, means: list[str]) -> dict[str, float]:
    """The mean of each column of `means` over the frame's `rows` (a group's) that hold a value, NaN
    if none. One value is its own mean (+ 0.0: polars' mean of -0.0 is 0.0); longer columns are averaged by
    polars in one query (its float sum is not numpy's: the same bits need the same summation)."""
    import polars as pl

    held = {m: rows[~cols.null[m][rows]] for m in means}
    if all(len(r) <= 1 for r in held.values()):
        return {m: float(cols.f64[m][r[0]]) + 0.0 if len(r) else math.nan for m, r in held.items()}
    row = df[rows].select(pl.col(m).drop_nulls().cast(pl.Float64).mean() for m in means).row(0)
    return {m: math.nan if v is None else float(v) for m, v in zip(means, row, strict=True)}


def aggregate(episodes: pl.DataFrame, by: list[str], metrics: list[str] | None = None,
              intervals: list[str] | None = None) -> pl.DataFrame:
    """One row per group: n, errors, and each metric as X, X_lo, X_hi (intervals only for `intervals`)."""
    import polars as pl

    metrics = metrics or [*CORE, *OUTCOMES, "no_answer_held", "has_leader", *MEANS]
    intervals = CORE if intervals is None else intervals
    missing = [c for c in [*by, *metrics] if c not in episodes.columns]
    if missing:
        raise KeyError(f"unknown column(s) {missing}; available: {episodes.columns}")
    rows = []
    cols = _Columns(episodes, metrics)
    ok_rows = episodes.select((pl.col("status") != "error").fill_null(False)).to_series().to_numpy()
    plain = [m for m in metrics if m not in intervals]
    # each group's row positions, in one query (partition_by would build a frame per group)
    groups = episodes.with_row_index("__row__").group_by(by, maintain_order=True).agg(pl.col("__row__"))
    for *key, at in groups.iter_rows():
        at = np.asarray(at, dtype=np.int64)
        ok_at = at[ok_rows[at]]
        row = dict(zip(by, key, strict=True)) | {
            "episodes": len(ok_at), "instances": cols.instances(ok_at), "errors": len(at) - len(ok_at)}
        means = _plain_means(cols, ok_at, episodes, plain)
        for m in metrics:
            if m in intervals:
                e = cols.estimate(m, ok_at)
                row |= {m: e.value, f"{m}_lo": e.lo, f"{m}_hi": e.hi}
                if m in RATES:
                    row[f"{m}_n"] = e.n
            else:
                row[m] = means[m]
        rows.append(row)
    if not rows:  # same columns, no rows: callers can select from it unconditionally
        cols = {c: episodes.schema[c] for c in by} | dict.fromkeys(["episodes", "instances", "errors"], pl.Int64)
        for m in metrics:
            cols |= {m: pl.Float64} | ({f"{m}_lo": pl.Float64, f"{m}_hi": pl.Float64} if m in intervals else {})
            cols |= {f"{m}_n": pl.Int64} if m in intervals and m in RATES else {}
        return pl.DataFrame(schema=cols)
    return pl.DataFrame(rows, infer_schema_length=None).sort(by)


def rcc(episodes: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """RCC = 1 - S(N=k) / S(N=1) per group, against the N = 1 baseline of the same team, model(s) and prompt.

    Both sides are averaged over the tasks the group covers (task-level means, paired by task);
    the interval bootstraps over tasks.
    """
    import polars as pl

    team = ["team", "models", "prompt_variant"]
    ok = episodes.filter(pl.col("status") != "error")
    base = (ok.filter(pl.col("n_agents") == 1).group_by([*team, "task"]).agg(pl.col("S").mean().alias("S1")))
    multi = ok.filter(pl.col("n_agents") > 1)
    keys = list(dict.fromkeys([*by, *team]))
    # sorted: group_by order is arbitrary, and the bootstrap draws tasks by position (same seed, same interval)
    per_task = multi.group_by([*keys, "task"]).agg(pl.col("S").mean().alias("Sk")).join(base, on=[*team, "task"]) \
        .sort([*keys, "task"])
    rows = []
    for key, g in per_task.partition_by(keys, as_dict=True, maintain_order=True).items():
        e = ratio_bootstrap(g.get_column("Sk").to_numpy(), g.get_column("S1").to_numpy())
        rows.append(dict(zip(keys, key, strict=True)) | {
            "tasks": len(g), "S_k": float(g.get_column("Sk").mean()), "S_1": float(g.get_column("S1").mean()),
            "RCC": e.value, "RCC_lo": e.lo, "RCC_hi": e.hi})
    return pl.DataFrame(rows, infer_schema_length=None).sort(keys) if rows else pl.DataFrame()


def rank_with_ties(values: list[float], los: list[float], his: list[float]) -> list[int]:
    """Rank = 1 + number of entries whose interval lies entirely above this one's; overlaps tie."""
    lo = [v if _nan(x) else x for v, x in zip(values, los, strict=True)]  # no interval: the point itself
    hi = [v if _nan(x) else x for v, x in zip(values, his, strict=True)]
    return [1 + sum(1 for j in range(len(values)) if j != i and lo[j] > hi[i]) for i in range(len(values))]


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))



PAIR_KEY = ["instance_id", "protocol"]


def pair_key(a: pl.DataFrame, b: pl.DataFrame) -> list[str]:
    """Episodes pair on (instance, protocol); on the instance alone when A and B share no protocol
    (a comparison of two protocols, e.g. p2p vs p2p+commit: instances do not depend on the protocol)."""
    shared = set(a.get_column("protocol").to_list()) & set(b.get_column("protocol").to_list())
    return PAIR_KEY if shared else ["instance_id"]


def _unique_pairs(eps: pl.DataFrame, side: str, key: list[str]) -> pl.DataFrame:
    import polars as pl

    dup = eps.filter(pl.struct(key).is_duplicated())
    if len(dup):
        varying = [c for c in ("protocol", "team", "models", "prompt_variant", "run")
                   if dup.get_column(c).n_unique() > 1]
        raise ValueError(f"configuration {side} has several episodes per ({', '.join(key)}); they differ in "
                         f"{', '.join(varying) or 'nothing (duplicated episodes)'}: narrow it, e.g. RUN@team=NAME")
    return eps


def compare(a: pl.DataFrame, b: pl.DataFrame, by: list[str] | None = None) -> pl.DataFrame:
    """Paired comparison of two configurations on matched episodes (`pair_key`), per group.

    McNemar (exact) on `solved`, Wilcoxon signed-rank on P, and the mean difference of S with a
    bootstrap interval clustered by instance. Errored episodes on either side are dropped."""
    import polars as pl

    by = by or []
    ok = pl.col("status") != "error"
    key = pair_key(a, b)
    a = _unique_pairs(a.filter(ok), "A", key)
    b = _unique_pairs(b.filter(ok), "B", key)
    cols = ["S", "P", "solved"]
    m = a.select(*dict.fromkeys([*key, *by]), *cols).join(
        b.select(*key, *[pl.col(c).alias(f"{c}_B") for c in cols]), on=key, how="inner")
    if m.is_empty():
        raise ValueError(f"no matched ({', '.join(key)}) pairs between A and B")
    rows = []
    groups = m.partition_by(by, as_dict=True, maintain_order=True).items() if by else [((), m)]
    for key, g in groups:
        r = paired(g.get_column("solved").to_numpy(), g.get_column("solved_B").to_numpy(),
                   g.get_column("P").to_numpy(), g.get_column("P_B").to_numpy(), g.get_column("instance_id"))
        ds = cluster_bootstrap((g.get_column("S") - g.get_column("S_B")).to_numpy(), g.get_column("instance_id"))
        rows.append(dict(zip(by, key, strict=True)) | {
            "pairs": r.n, "S_A": float(g.get_column("S").mean()), "S_B": float(g.get_column("S_B").mean()),
            "dS": ds.value, "dS_lo": ds.lo, "dS_hi": ds.hi, "both": r.both, "A_only": r.a_only,
            "B_only": r.b_only, "neither": r.neither, "mcnemar_p": r.mcnemar_p, "P_A": r.mean_a, "P_B": r.mean_b,
            "dP": r.diff.value, "dP_lo": r.diff.lo, "dP_hi": r.diff.hi, "wilcoxon_p": r.wilcoxon_p,
            "wilcoxon_n": r.wilcoxon_n})
    return pl.DataFrame(rows, infer_schema_length=None)
