"""I-01 global maximum: 20 ints in [-1000N, 1000N] per agent (v1: [-1000, 1000]); every agent submits the max."""

from __future__ import annotations

import re
from dataclasses import dataclass

from silo.attribution import named_sets
from silo.bitsets import bits_of
from silo.evidence import AnyOf, Fingerprint, Parsed, Value
from silo.evidence_text import parse, sentence_spans, sentences
from silo.tasks import register
from silo.tasks.base import TaskSpec


@dataclass(frozen=True)
class NamedMax(Fingerprint):
    """The maximum of several shards, in content that names them ("running max after agents 0-3", "combined
    summary of agents 1, 3, 4", with or without its author; "mine and agent 0's" for a pair): a maximum is
    one shard's own value, so it cannot show by itself which set it was taken over (an unnamed "combined
    summary: 4968" of some of an author's shards equals the maximum of all it holds whenever the largest value
    is among them)."""

    value: Value
    agents: int  # the set's bits (silo.bitsets): one per candidate set of a flood, so no copy of up to N members

    def anchor(self) -> frozenset | None:
        return self.value.anchor() if type(self) is NamedMax else None  # (matches needs value.matches)

    def matches(self, p: Parsed) -> bool:
        if not self.value.matches(p):
            return False
        a = self.agents
        size = a.bit_count()
        # (a named set within the agents and missing at most one of them; j >= 0, and a >> j is 0 past a's bits,
        # however large a named id)
        if any(all(a >> j & 1 for j in n) and size - len(n) <= 1 for n in named_sets(p.text)):
            return True
        # a pair: its other agent named with the author's own in the sentence that states it ("max of mine
        # and agent 0's: 4937"); named_sets needs two ids
        return size == 2 and any(all(a >> j & 1 for j in one) and self.value.matches(parse(sent))
                                 for one, sent in _one_and_mine(p.text))


def _one_and_mine(text: str) -> list[tuple[frozenset[int], str]]:
    """(the one agent named, the sentence) for each sentence naming one agent and the author's own."""
    out = []
    for lo, hi in sentence_spans(text):
        sent = text[lo:hi]
        ids = frozenset(int(m) for m in _ONE.findall(sent))
        if len(ids) == 1 and _MINE.search(sent):
            out.append((ids, sent))
    return out


_ONE = re.compile(r"\bagent\s*#?(\d+)", re.IGNORECASE)
_MINE = re.compile(r"\b(?:my|mine)\b", re.IGNORECASE)


@dataclass(frozen=True)
class StatedMax(Fingerprint):
    """The maximum of every shard stated as the answer: in a sentence that says it is a result or a maximum
    ("the global max is 9995", "the maximum over all ten lists is 9995"), not any number that equals it."""

    value: Value

    def without_scalars(self) -> Fingerprint | None:
        return None

    def anchor(self) -> frozenset | None:
        return self.value.anchor() if type(self) is StatedMax else None

    def matches(self, p: Parsed) -> bool:
        return self.value.matches(p) and any(_STATED.search(s) and self.value.matches(parse(s))
                                             for s in sentences(p.text))


@dataclass(frozen=True)
class WeakMax(Fingerprint):
    """The answer as a weak alternative: counted only in a sentence that states a result (scorer's rule)."""

    value: Value
    weak = True

    def anchor(self) -> frozenset | None:
        return self.value.anchor() if type(self) is WeakMax else None

    def matches(self, p: Parsed) -> bool:
        return self.value.matches(p)


_STATED = re.compile(r"\b(?:answers?|result|max(?:imum)?|largest|highest|biggest|greatest|overall|global|final)\b",
                     re.IGNORECASE)


@register
class GlobalMax(TaskSpec):
    """The sufficient statistic of any set of shards is its maximum.

    v2 (a deviation from the reference): values are drawn from [-1000N, 1000N] instead of [-1000, 1000].
    With 20N draws from a fixed range the maximum hits the bound 1000 once N is large (the constant
    1000 was right 37% of the time at N = 50, 60% at N = 100: docs/guessability.md); a range that
    grows with N keeps the chance that the maximum is the bound near 1% at every N.
    Inherent chance 1/N: whichever agent holds the maximum answers right from its own shard alone.
    The task is kept because that agent cannot know it holds the maximum without hearing from the
    others, and the other N - 1 agents are wrong alone. v1 (I-01@1) is the reference's generator.
    Evidence: a maximum is one shard's own value, so alone it cannot say which set it was taken over
    (an unnamed summary of some of an author's shards equals the maximum of all it holds whenever
    the largest value is among them): the max of several shards counts where the content names them
    (NamedMax) or, of every shard, as the answer stated (StatedMax, WeakMax); not even for a pair
    (scorer 5): the pairs tried include the author's earlier evidence sets, whose max an unnamed summary of
    other shards equals whenever their largest value is the same.
    """

    id = "I-01"
    slug = "global-max"
    name = "global maximum"
    level = 1
    version = 2
    answer_format = "a single integer"
    hint = ("Reduce: each agent sends its local maximum to one agent, which takes the maximum and shares it "
            "with everyone (star topology).")
    items = 20

    def generate(self, n_agents, rng):
        bound = 1000 * n_agents
        return [[rng.randint(-bound, bound) for _ in range(self.items)] for _ in range(n_agents)], {}

    def inherent_chance(self, n_agents):
        return 1 / n_agents

    def solve(self, shards, params):
        best = max(max(s) for s in shards)
        return [best] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of integers. Every agent must submit the "
                "maximum over all integers held by all agents.")

    def stat_fingerprint(self, inst, agents, i):
        # a shard's own max as it is; several shards' max only where the content names them or, of every
        # shard, stated as the answer
        value = Value(max(max(inst.shards[j].data) for j in agents))
        if len(agents) == 1:
            return value
        named = NamedMax(value, bits_of(agents))
        return AnyOf((named, StatedMax(value), WeakMax(value))) if agents >= self.depends_on(inst, i) else named

    def partial(self, data, agent, params):
        return max(data)

    def combine(self, partials, params):
        best = max(partials)
        return [best] * len(partials)


@register
class GlobalMaxV1(GlobalMax):
    """I-01 v1, the reference's generator: 20 ints in [-1000, 1000] per agent (the bound is often the maximum)."""

    version = 1

    def generate(self, n_agents, rng):
        return [[rng.randint(-1000, 1000) for _ in range(self.items)] for _ in range(n_agents)], {}

    def inherent_chance(self, n_agents):
        return 1 / n_agents
