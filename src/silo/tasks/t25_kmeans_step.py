"""III-25 k-means step: 20 2-D points per agent, K = 3 public initial centroids; one Lloyd update."""

from __future__ import annotations

import json

from silo.evidence import Items
from silo.tasks import register
from silo.tasks.base import as_number
from silo.tasks.common import ShuffleTask, as_list, check_items, instance_memo
from silo.tasks.sums import per_shard, value_sets

K = 3


def _cents(v: float) -> int:
    """A 2-dp coordinate as an exact integer number of hundredths."""
    return round(v * 100)


def cluster_sums(points: list[list[float]], centroids: list[list[float]]) -> list[list[int]]:
    """Per centroid [sum x, sum y, count] of the points nearest to it, sums in hundredths (exact)."""
    cs = [(_cents(cx), _cents(cy)) for cx, cy in centroids]
    sums = [[0, 0, 0] for _ in cs]
    for x, y in points:
        px, py = _cents(x), _cents(y)
        d = [(px - cx) ** 2 + (py - cy) ** 2 for cx, cy in cs]
        k = d.index(min(d))  # ties go to the lowest centroid index
        sums[k][0] += px
        sums[k][1] += py
        sums[k][2] += 1
    return sums


def update(sums: list[list[int]], centroids: list[list[float]]) -> list[list[float]]:
    """New centroids (2 dp) from per-cluster sums in hundredths; an empty cluster keeps its centroid."""
    out = []
    for (sx, sy, c), old in zip(sums, centroids, strict=True):
        out.append([round(sx / c / 100, 2), round(sy / c / 100, 2)] if c else list(old))
    return out


@register
class KMeansStep(ShuffleTask):
    """One Lloyd iteration from public initial centroids; answer the 3 new centroids rounded to 2 dp.

    Decisions: points and centroids have 2 decimals (the shown data is exact); distance is
    Euclidean, a point equidistant from several centroids joins the lowest-index one; an empty
    cluster keeps its old centroid (cannot happen with the generated data: the initial centroids
    are 3 distinct data points). Coordinates are accepted within 0.01. Partial credit: LCS over
    the 3 centroids / 3. Oracle partial and evidence of a set of shards: per-cluster
    [sum x, sum y, count] (9 numbers, a sufficient statistic); raw shards: their 40 coordinates.
    A set of shards is also found from the content (stat_sets): the 2+ of the author's shards whose summed
    x of a cluster is a number of it (an unnamed "combined summary" of some of the shards it holds).
    """

    id = "III-25"
    slug = "kmeans-step"
    name = "k-means step"
    level = 3
    version = 1
    answer_format = ("a JSON list of 3 [x, y] pairs in centroid order, each coordinate rounded to 2 decimals, "
                     "e.g. [[12.5, 40.25], [60.0, 7.33], [81.1, 90.0]]")
    tolerance = 0.01
    oracle = "star"
    hint = ("MapReduce: each agent assigns its points to the nearest centroid and computes per-cluster sums "
            "and counts; the sums are combined (all-reduce) and divided to get the new centroids.")
    items = 20

    def generate(self, n_agents, rng):
        pts = [[round(rng.uniform(0, 100), 2), round(rng.uniform(0, 100), 2)] for _ in range(self.items * n_agents)]
        distinct = sorted({tuple(p) for p in pts})  # distinct centroids: no cluster starts empty
        centroids = [list(p) for p in rng.sample(distinct, K)]
        k = self.items
        return [pts[a * k:(a + 1) * k] for a in range(n_agents)], {"k": K, "centroids": centroids}

    def solve(self, shards, params):
        sums = cluster_sums([p for s in shards for p in s], params["centroids"])
        return [update(sums, params["centroids"])] * len(shards)

    def describe(self, n_agents, params):
        cents = json.dumps(params["centroids"])
        return (f"{n_agents} agents each hold {self.items} points (x, y) in the plane. There are {K} initial "
                f"centroids, numbered 0 to {K - 1}: {cents}. Assign every point of every agent to its nearest "
                "centroid (Euclidean distance; on a tie, the lowest-numbered centroid). Each new centroid is "
                "the mean of the points assigned to it (a centroid with no points stays where it is). Every "
                f"agent must submit the {K} new centroids in centroid order, coordinates rounded to 2 decimals.")

    def render_shard(self, data, agent, params):
        return "Your points [x, y]: " + json.dumps(data)

    def check(self, answer, truth):
        return check_items(answer, truth, self._same)

    def _same(self, a, t) -> bool:
        a = as_list(a)
        if a is None or len(a) != len(t):
            return False
        nums = [as_number(x) for x in a]
        return all(x is not None and abs(x - y) <= self.tolerance + 1e-9 for x, y in zip(nums, t, strict=True))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return super().stat_fingerprint(inst, agents, i)
        # the set's sums as the sum of its shards' (exact: integer hundredths, each point in its nearest cluster),
        # each shard's made once per instance, not once per set asked about
        memo = instance_memo(inst)
        sums = [[0, 0, 0] for _ in inst.params["centroids"]]
        for j in agents:
            got = memo.get(j)
            if got is None:
                got = memo[j] = cluster_sums(inst.shards[j].data, inst.params["centroids"])
            for total, part in zip(sums, got, strict=True):
                for n in range(3):
                    total[n] += part[n]
        return Items(tuple(x for s in self._real(sums) for x in s))

    def partial(self, data, agent, params):
        return self._real(cluster_sums(data, params["centroids"]))

    def combine(self, partials, params):
        sums = [[sum(_cents(p[k][0]) for p in partials), sum(_cents(p[k][1]) for p in partials),
                 sum(p[k][2] for p in partials)] for k in range(K)]
        return [update(sums, params["centroids"])] * len(partials)

    @staticmethod
    def _real(sums: list[list[int]]) -> list[list[float]]:
        """Sums in hundredths as [sum x, sum y, count] in real units."""
        return [[sx / 100, sy / 100, c] for sx, sy, c in sums]

    def stat_sets(self, inst, content, within, i):
        # a combined summary of some of the author's shards, in any layout: the subsets whose summed x of one
        # cluster is a number of the content (then its fingerprint needs all 9 sums and counts)
        sums = per_shard(inst, "cluster sums", lambda j: cluster_sums(inst.shards[j].data, inst.params["centroids"]))
        found: list[frozenset[int]] = []
        for k in range(K):
            found += [s for s in value_sets(within, {j: sums[j][k][0] for j in within}, content) if s not in found]
        return found
