"""III-29 load balance: 20N tasks (every 10th heavy, all heavy ones held by agent 0); greedy LPT onto N machines."""

from __future__ import annotations

import heapq
import json
from fractions import Fraction

from silo.evidence import AnyOf, Items, Labelled
from silo.tasks import register
from silo.tasks.base import as_number, split_even
from silo.tasks.common import ShuffleTask, as_json
from silo.tasks.sums import subset_sums
from silo.tasks.t18_list_ranking import Pairs

FIELDS = ("variance", "max_load", "min_load")


def lpt_loads(tasks: list[list[int]], machines: int) -> list[int]:
    """Greedy LPT: tasks [id, weight] by weight desc (ties: lower id first), each to the least-loaded machine
    (ties: lowest machine id). Returns the machine loads."""
    heap = [(0, m) for m in range(machines)]  # (load, machine id): the smallest pops first, ties by id
    loads = [0] * machines
    for _, w in sorted(tasks, key=lambda t: (-t[1], t[0])):
        load, m = heapq.heappop(heap)
        loads[m] = load + w
        heapq.heappush(heap, (loads[m], m))
    return loads


def summary(loads: list[int]) -> dict:
    """{variance: population variance rounded (half-even) to 2 dp, max_load, min_load}."""
    n = len(loads)
    mean = Fraction(sum(loads), n)
    var = sum((x - mean) ** 2 for x in loads) / n
    return {"variance": float(round(var, 2)), "max_load": max(loads), "min_load": min(loads)}


def _descending_runs(p) -> set[tuple]:
    """Maximal non-increasing runs (3+ numbers) of the content's numbers and table columns, each also without
    its first one or two numbers (a label such as "agents 8, 9: 7, 7, 6" may lead into the run)."""
    runs = set()
    for seq in (p.numbers, *p.columns):
        start = 0
        for k in range(1, len(seq) + 1):
            if k == len(seq) or seq[k] > seq[k - 1]:
                runs |= {tuple(seq[start + d:k]) for d in range(3) if k - start - d >= 3}
                start = k
    return runs


@register
class LoadBalance(ShuffleTask):
    """Schedule all tasks on N machines (one per agent) with greedy LPT; answer variance, max and min load.

    Generation: tasks 0..20N-1; task k is heavy (weight 50..100) when k % 10 == 0, else light
    (1..10). Decision on the skew: agent 0 holds every heavy task plus its even share of the light
    ones; the light tasks are split evenly in id order (last agent takes the remainder). Decisions:
    LPT ties go to the lower task id (task order) and to the lowest machine id (stated so the
    schedule is unambiguous; neither changes the answer, as equal weights or equal loads are
    interchangeable); variance is the
    population variance of the N loads, rounded to 2 dp, accepted within 0.01; loads must be exact.
    Partial credit: share of the 3 fields correct. The loads depend only on the multiset of
    weights, so the oracle partial and the evidence of a set of shards is its weight multiset;
    raw shards: each task's id and weight as adjacent numbers (in any order of tasks).
    """

    id = "III-29"
    slug = "load-balance"
    name = "load balance"
    level = 3
    version = 1
    answer_format = ('a JSON object {"variance": <number, 2 decimals>, "max_load": <integer>, '
                     '"min_load": <integer>}')
    tolerance = 0.01
    oracle = "star"
    hint = ("Gather the task weights (all-to-all shuffle), sort them in decreasing order and assign each to the "
            "currently least-loaded machine (greedy LPT); then report the load statistics.")
    per_agent = 20

    def generate(self, n_agents, rng):
        tasks = [[k, rng.randint(50, 100) if k % 10 == 0 else rng.randint(1, 10)]
                 for k in range(self.per_agent * n_agents)]
        heavy = [t for t in tasks if t[0] % 10 == 0]
        light = split_even([t for t in tasks if t[0] % 10], n_agents)
        shards = [sorted(heavy + light[0])] + light[1:]
        return shards, {"machines": n_agents, "n_tasks": len(tasks)}

    def solve(self, shards, params):
        ans = summary(lpt_loads([t for s in shards for t in s], params["machines"]))
        return [ans] * len(shards)

    def describe(self, n_agents, params):
        m = params["machines"]
        return (f"{params['n_tasks']} tasks, each with an id and an integer weight, are split among {n_agents} "
                f"agents. Schedule all of them on {m} machines (numbered 0 to {m - 1}, all starting empty) as "
                "follows: take the tasks in order of decreasing weight (equal weights: lower task id first) "
                "and put each on the machine with the smallest current load (equal loads: lowest machine "
                "number); a machine's load is the sum of its task weights. Every agent must submit the "
                "population variance of the final machine loads (rounded to 2 decimals), the largest load "
                "and the smallest load.")

    def render_shard(self, data, agent, params):
        return "Your tasks [id, weight]: " + json.dumps(data)

    def check(self, answer, truth):
        answer = as_json(answer, dict)
        if answer is None:
            return False, 0.0
        got = {str(k).strip().lower(): as_number(v) for k, v in answer.items()}
        ok = [got.get(f) is not None and abs(got[f] - truth[f]) <= (self.tolerance if f == "variance" else 0) + 1e-9
              for f in FIELDS]
        return all(ok), sum(ok) / len(FIELDS)

    def raw_fingerprint(self, inst, j, i):
        # each [id, weight] as adjacent numbers: the ids are a run of consecutive integers, so any index column
        # (a numbered table of weights) lists them all, and weights 1..10 are in any longer list of light tasks
        return Pairs(tuple((k, w) for k, w in inst.shards[j].data))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            # the answer in its field order, or each value beside its field name in any order
            named = Labelled(tuple((f, inst.truth[i][f]) for f in FIELDS))
            return AnyOf((super().stat_fingerprint(inst, agents, i), named))
        # as one sorted run (the partial's layout): a few weights in 1..99 are inside any longer list by chance
        return Items(tuple(sorted((w for j in agents for _, w in inst.shards[j].data), reverse=True)), ordered=True)

    def stat_sets(self, inst, content, within, i):
        # a "combined summary" of some of the shards the author holds, named or not: the subsets of `within`
        # whose weights, taken together, are exactly a descending run of the content (meeting in the middle)
        if not 1 < len(within) <= 16:
            return []
        shards = sorted(within)
        values = sorted({w for j in shards for _, w in inst.shards[j].data})
        col = {v: k for k, v in enumerate(values)}
        targets = set()
        for run in _descending_runs(content):
            if all(x in col for x in run):
                vec = [0] * len(values)
                for x in run:
                    vec[col[x]] += 1
                targets.add(tuple(vec))
        if not targets:
            return []
        vec = {}
        for j in shards:
            vec[j] = [0] * len(values)
            for _, w in inst.shards[j].data:
                vec[j][col[w]] += 1
        half = len(shards) // 2
        left, right = subset_sums(shards[:half], vec, len(values)), subset_sums(shards[half:], vec, len(values))
        found = []
        for t in targets:
            for total, a in left.items():
                b = right.get(tuple(x - y for x, y in zip(t, total, strict=True)))
                if b is not None and len(a | b) > 1:
                    found.append(a | b)
        return found

    def partial(self, data, agent, params):
        return sorted((w for _, w in data), reverse=True)

    def combine(self, partials, params):
        weights = [w for p in partials for w in p]
        ans = summary(lpt_loads([[k, w] for k, w in enumerate(weights)], params["machines"]))
        return [ans] * len(partials)
