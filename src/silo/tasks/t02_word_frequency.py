"""I-02 word frequency: 30 fruit words per agent; every agent submits the global count of "apple".

Also home of CountsReduce, the star reduce shared by the level I tasks whose sufficient
statistic is a fixed vector of counts (word counts, vote tallies, range buckets, bit counts).
"""

from __future__ import annotations

from collections import Counter
from operator import sub as _minus
from typing import Any, ClassVar

from silo.evidence import AnyOf, Fingerprint, Items, Labelled, Value, Words, answer_fingerprint
from silo.evidence_claims import Near, Short
from silo.tasks import register
from silo.tasks.base import split_even
from silo.tasks.common import StarReduce
from silo.tasks.common import instance_memo as _memo
from silo.tasks.sums import subset_sums

FRUITS = ("apple", "banana", "cherry", "grape", "kiwi", "mango", "peach")


class CountsReduce(StarReduce):
    """A task whose shard statistic is a vector of counts, one per label, combined by addition.

    The partial is {label: count} in the fixed label order, so in any message its counts
    form a contiguous run of numbers in that order. Evidence guard: a set's statistic is
    recognised only as that whole ordered run (at least 3 counts, never a lone small count),
    or, once the set covers everything the receiver depends on, as the answer itself.
    """

    labels: ClassVar[tuple[str, ...]] = ()

    def counts(self, data: Any, params: dict) -> list[int]:
        """The shard's count vector, in label order."""
        raise NotImplementedError

    def from_counts(self, totals: list[int], params: dict) -> Any:
        """The global answer from the summed count vector."""
        raise NotImplementedError

    def stat_sets(self, inst, content, within, i):
        # a "combined summary" of some of the shards the author holds: the subsets of `within` whose summed
        # count vectors appear in the content (an ordered run, or one count beside every label), found by
        # meeting in the middle (two halves of at most 8 shards each)
        if not 2 < len(within) <= 16:
            return []
        k = len(self.labels)
        targets = {tuple(content.numbers[n:n + k]) for n in range(len(content.numbers) - k + 1)}
        for col in content.columns:
            targets |= {tuple(col[n:n + k]) for n in range(len(col) - k + 1)}
        by_label = {}
        for label, v in content.labelled:
            by_label.setdefault(label, set()).add(v)
        if all(len(by_label.get(lab.lower(), ())) <= 1 for lab in self.labels) and by_label:
            targets.add(tuple(next(iter(by_label.get(lab.lower(), {0}))) for lab in self.labels))
        if not targets:
            return []
        shards = sorted(within)
        vec = {j: self._counts(inst, j) for j in shards}
        # every subset sum lies between the sums of the negative and of the positive components: a target
        # outside those bounds is no subset's sum (skipped unsearched; the same sets are found)
        lo = [sum(min(v[n], 0) for v in vec.values()) for n in range(k)]
        hi = [sum(max(v[n], 0) for v in vec.values()) for n in range(k)]
        half = len(shards) // 2
        left, right = subset_sums(shards[:half], vec, k), subset_sums(shards[half:], vec, k)
        found = []
        for t in targets:
            if not all(a <= x <= b for a, x, b in zip(lo, t, hi, strict=True)):
                continue
            for total, a in left.items():
                b = right.get(tuple(map(_minus, t, total)))
                if b is not None and len(a | b) > 1:
                    found.append(a | b)
        return found

    def claim_fingerprint(self, inst, agents, i):
        totals = [0] * len(self.labels)
        for j in agents:
            totals = [t + c for t, c in zip(totals, self._counts(inst, j), strict=True)]
        claim = self.scalar_fingerprint(totals, inst.params)
        if claim is not None and len(agents) == 1:  # an author's bare statement of its own statistic
            claim = AnyOf((claim, Short(Value(self.from_counts(totals, inst.params)))))
        return claim

    def _counts(self, inst, j: int) -> list[int]:
        """Shard j's counts, made once per instance (the hooks sum them for every set asked about)."""
        memo = _memo(inst)
        got = memo.get(("counts", j))
        if got is None:
            got = memo[("counts", j)] = self.counts(inst.shards[j].data, inst.params)
        return got

    def scalar_fingerprint(self, totals: list[int], params: dict) -> Fingerprint | None:
        """How a set's scalar sufficient statistic is stated (a claim; None: only as the count vector)."""
        return None

    def partial(self, data, agent, params):
        return dict(zip(self.labels, self.counts(data, params), strict=True))

    def combine(self, partials, params):
        totals = [sum(p[label] for p in partials) for label in self.labels]
        answer = self.from_counts(totals, params)
        return [answer] * len(partials)

    def stat_fingerprint(self, inst, agents, i):
        totals = [0] * len(self.labels)
        for j in agents:
            totals = [t + c for t, c in zip(totals, self._counts(inst, j), strict=True)]
        # the counts as an ordered run in label order, or beside their labels in any order ("Bob: 9, Alice: 7")
        run = AnyOf((Items(tuple(totals), ordered=True), Labelled(tuple(zip(self.labels, totals, strict=True)))))
        if agents >= self.depends_on(inst, i):
            answer = answer_fingerprint(inst.truth[i], self.tolerance)
            return AnyOf((run, answer)) if answer is not None else run
        return run


@register
class WordFrequency(CountsReduce):
    """Global number of occurrences of "apple" among every agent's words.

    Decisions: the global word list has 30 words per agent; global positions 0, 10, 20, ...
    (0-based, i.e. every 10th word starting with the first) are "apple". v2 (a deviation from the
    reference): every other word is "apple" with a probability drawn per shard, uniform in [0, 0.8],
    else one of the 6 other fruits uniformly. In v1 (I-02@1, the reference) every other word was
    uniform over the 7 fruits, so the total was concentrated enough for the expected total to be
    right 16% of the time at N = 2 and 12% at N = 5 (docs/guessability.md); per-shard rates spread it at every N.
    Star partial: the shard's count of every fruit (the word-count reduce), in a fixed order;
    the bare apple count is usually a number below 10, which proves nothing on its own.
    Raw evidence: the shard's multiset of words.
    """

    id = "I-02"
    slug = "word-frequency"
    name = "word frequency"
    level = 1
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    optimal_topology = "star"
    hint = ('Reduce: each agent counts "apple" in its list and sends the count to one agent, which adds the '
            "counts and shares the total with everyone (star topology).")
    labels = FRUITS
    items = 30
    every = 10

    def generate(self, n_agents, rng):
        others = [f for f in FRUITS if f != "apple"]
        words = []
        for a in range(n_agents):
            rate = rng.uniform(0, 0.8)
            words += ["apple" if p % self.every == 0 or rng.random() < rate else rng.choice(others)
                      for p in range(a * self.items, (a + 1) * self.items)]
        return split_even(words, n_agents), {"word": "apple", "vocabulary": list(FRUITS)}

    def counts(self, data, params):
        c = Counter(data)
        return [c[f] for f in self.labels]

    def from_counts(self, totals, params):
        return totals[self.labels.index(params["word"])]

    def describe(self, n_agents, params):
        return (f'{n_agents} agents each hold a list of fruit names. Every agent must submit the total number '
                f'of times the word "{params["word"]}" occurs across the lists of all agents (every '
                "occurrence counts).")

    def render_shard(self, data, agent, params):
        return " ".join(data)

    def raw_fingerprint(self, inst, j, i):
        # in order as held, or sorted (a tidy paste): a multiset of 25-30 words over a handful of names is
        # inside any longer list of the same names by chance
        data = tuple(inst.shards[j].data)
        return AnyOf((Words(data, ordered=True), Words(tuple(sorted(data)), ordered=True)))

    def scalar_fingerprint(self, totals, params):
        # the word's count beside the word ("apple: 5") or near it ("5 apples", "apple count so far: 12")
        n = totals[self.labels.index(params["word"])]
        return AnyOf((Labelled(((params["word"], n),), strong=True), Near((params["word"],), n, public=(self.items,))))


@register
class WordFrequencyV1(WordFrequency):
    """I-02 v1, the reference's generator: every 10th word is "apple", the others uniform over the 7 fruits."""

    version = 1

    def generate(self, n_agents, rng):
        words = ["apple" if p % self.every == 0 else rng.choice(FRUITS) for p in range(self.items * n_agents)]
        return split_even(words, n_agents), {"word": "apple", "vocabulary": list(FRUITS)}
