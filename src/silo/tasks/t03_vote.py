"""I-03 distributed vote: 25 votes over 4 candidates per agent; every agent submits the winner."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from silo.evidence import AnyOf, Fingerprint, Parsed, Words
from silo.tasks import register
from silo.tasks.base import split_even
from silo.tasks.t02_word_frequency import CountsReduce

CANDIDATES = ("Alice", "Bob", "Carol", "Dave")


@dataclass(frozen=True)
class Winner(Fingerprint):
    """A candidate's name stated, not as the label of a count: "Carol wins", "the answer is Carol", not the
    "Carol": 6 of a tally (a sentence holding a tally and "so far" is not a statement of the winner).
    Weak, as any single word: it counts only as the whole answer, in a sentence that states a result."""

    name: str
    weak = True

    def __post_init__(self):
        label = r"""(?!["']?[ \t]*(?:[:=|][ \t]*|,)-?\d)"""  # "Carol": 6 | Carol = 6 | Carol | 6 | Carol,6
        object.__setattr__(self, "_re", re.compile(rf"\b{re.escape(self.name)}\b{label}", re.IGNORECASE))

    def matches(self, p: Parsed) -> bool:
        return bool(self._re.search(p.text))


@register
class Vote(CountsReduce):
    """The candidate with the most votes over every agent's ballots.

    Decisions: 25 votes per agent. v2 (a deviation from the reference): one winner is drawn
    uniformly per instance; every shard holds its 4 candidates at counts of about 9, 7, 5 and 4
    (the first three each drawn in +-1, the last the rest, sorted; ballots shuffled), the winner
    taking the first count with probability 1/4, the second or third with 3/8 each, never the
    last, the other candidates in random order; instances where the winner does not
    have strictly the most votes overall are drawn again. In v1 (I-03@1, the reference: every
    2nd vote goes to the winner) every shard's own majority was the global winner (the premature
    answer was right 100% of the time at every N, docs/guessability.md).
    Inherent chance 1/4 + 1/(N + 1): naming any fixed candidate is right 1 time in 4, and a
    plurality over N shards is partly visible in each (the winner must lead the sum, so at N = 2
    it leads one of the two halves in most instances); the own-shard majority is right 56% at
    N = 2, 40% at 5, 32% at 10, 29% at 20 and about 1/4 from N = 50. The task is kept because no
    agent can tell from its shard whether its local leader is the winner: the answer needs the sum.
    A tie for the most votes cannot happen (v1: it goes to the alphabetically first tied name).
    Names compare case-insensitively.
    Star partial: the shard's tally of all 4 candidates in fixed order (ordered run of 4 counts).
    An unnamed summary's set is found from its tally only where no other subset of the author's
    shards sums to the same tally (they collide: every shard holds about 9, 7, 5 and 4 votes). The
    answer: the winner's name stated, not as the label of a count (Winner). Raw evidence: the shard's
    25 names as a run, as held or sorted.
    """

    id = "I-03"
    slug = "vote"
    name = "distributed vote"
    level = 1
    version = 2
    answer_format = 'the winning candidate\'s name as a string, e.g. "Alice"'
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent tallies the votes in its list and sends the tally to one agent, which adds the "
            "tallies and shares the candidate with the most votes (star topology).")
    labels = CANDIDATES
    items = 25

    rank_counts = (9, 7, 5)  # about the votes of a shard's first, second and third candidate (each +-1)

    def generate(self, n_agents, rng):
        while True:
            winner = rng.choice(CANDIDATES)
            shards, totals = [], Counter()
            for _ in range(n_agents):
                u = rng.random()
                rank = 0 if u < 0.25 else 1 if u < 0.625 else 2
                others = rng.sample([c for c in CANDIDATES if c != winner], 3)
                order = [*others[:rank], winner, *others[rank:]]
                counts = [rng.randint(k - 1, k + 1) for k in self.rank_counts[:3]]
                counts = sorted([*counts, self.items - sum(counts)], reverse=True)
                votes = [c for c, k in zip(order, counts, strict=True) for _ in range(k)]
                rng.shuffle(votes)
                shards.append(votes)
                totals.update(votes)
            best = max(totals.values())
            if totals[winner] == best and list(totals.values()).count(best) == 1:
                return shards, {"candidates": list(CANDIDATES)}

    def inherent_chance(self, n_agents):
        return 0.25 + 1 / (n_agents + 1)

    def counts(self, data, params):
        c = Counter(data)
        return [c[name] for name in self.labels]

    def from_counts(self, totals, params):
        best = max(totals)
        return min(name for name, c in zip(self.labels, totals, strict=True) if c == best)

    def describe(self, n_agents, params):
        names = ", ".join(params["candidates"])
        return (f"{n_agents} agents each hold a list of votes; each vote names one candidate ({names}). Every "
                "agent must submit the candidate who received the most votes over the lists of all agents "
                "(if several candidates tie for the most votes, the alphabetically first of them).")

    def render_shard(self, data, agent, params):
        return ", ".join(data)

    def stat_fingerprint(self, inst, agents, i):
        fp = super().stat_fingerprint(inst, agents, i)
        if not agents >= self.depends_on(inst, i):
            return fp
        tally, _ = fp.parts  # the summed tally; the answer as the winner's name stated, not a tally label
        return AnyOf((tally, Winner(inst.truth[i])))

    def stat_sets(self, inst, content, within, i):
        # the subsets whose summed tallies appear (CountsReduce), only where no other subset of `within` sums
        # to the same tally: every shard holds about 9, 7, 5 and 4 votes, so sums of different subsets collide
        found = super().stat_sets(inst, content, within, i)
        if not found:
            return []
        vec = {j: self._counts(inst, j) for j in within}
        shards = sorted(within)
        half = len(shards) // 2
        left, right = _sum_counts(shards[:half], vec), _sum_counts(shards[half:], vec)
        out = []
        for s in found:
            target = tuple(map(sum, zip(*(vec[j] for j in s), strict=True)))
            ways = sum(n * right.get(tuple(t - x for t, x in zip(target, a, strict=True)), 0) for a, n in left.items())
            if ways == 1 and s not in out:
                out.append(s)
        return out

    def raw_fingerprint(self, inst, j, i):
        # in order as held, or sorted (a tidy paste): a multiset of 25-30 words over a handful of names is
        # inside any longer list of the same names by chance
        data = tuple(inst.shards[j].data)
        return AnyOf((Words(data, ordered=True), Words(tuple(sorted(data)), ordered=True)))


def _sum_counts(shards: list[int], vec: dict) -> Counter:
    """Summed tally -> how many subsets of `shards` (the empty one included) have it."""
    out: Counter = Counter({(0,) * len(CANDIDATES): 1})
    for j in shards:
        for total, n in list(out.items()):
            out[tuple(x + y for x, y in zip(total, vec[j], strict=True))] += n
    return out


@register
class VoteV1(Vote):
    """I-03 v1, the reference's generator: every 2nd global vote goes to a random winner, the rest uniform."""

    version = 1

    def generate(self, n_agents, rng):
        winner = rng.choice(CANDIDATES)
        votes = [winner if p % 2 == 0 else rng.choice(CANDIDATES) for p in range(self.items * n_agents)]
        return split_even(votes, n_agents), {"candidates": list(CANDIDATES)}
