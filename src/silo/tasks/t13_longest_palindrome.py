"""II-13 longest palindrome: 15 lowercase letters per agent, a palindrome planted; length of the longest one."""

from __future__ import annotations

import string
from dataclasses import dataclass

from silo.evidence import MIN_ITEMS, Fingerprint, Parsed, _contains_run
from silo.tasks import register
from silo.tasks.base import split_even
from silo.tasks.common import ChainTask


def random_palindrome(rng, length: int) -> str:
    """A palindrome of the given length from random lowercase letters."""
    half = "".join(rng.choice(string.ascii_lowercase) for _ in range(length // 2))
    mid = rng.choice(string.ascii_lowercase) if length % 2 else ""
    return half + mid + half[::-1]


@dataclass(frozen=True)
class Letters(Fingerprint):
    """A string of letters seen in content: inside one word, or spelled out as single-letter words.

    The second form (e.g. a JSON list or CSV column of characters) must keep the letters in order, and
    needs at least MIN_ITEMS letters; content in which it is looked for is upstream of the shard's owner."""

    text: str

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.text) < MIN_ITEMS

    def matches(self, p: Parsed) -> bool:
        t = self.text.lower()
        if not t:
            return False
        if any(t in w for w in p.words):
            return True
        # spelled out: the letters in order among the single-letter words (a multiset of letters is inside
        # any longer list of letters by chance)
        singles = tuple(w for w in p.wordseq if len(w) == 1)
        return _contains_run(singles, tuple(t))


def longest_palindrome(s: str) -> int:
    """Length of the longest palindromic substring (expansion around every centre)."""
    best = 0
    for c in range(2 * len(s) - 1):
        lo, hi = c // 2, c // 2 + c % 2
        while lo >= 0 and hi < len(s) and s[lo] == s[hi]:
            lo, hi = lo - 1, hi + 1
        best = max(best, hi - lo - 1)
    return best


@register
class LongestPalindrome(ChainTask):
    """Longest palindromic substring (contiguous) of the concatenated global string.

    Decision (a deliberate deviation): the reference (v1, II-13@1) plants "racecar", which makes the
    answer 7 on virtually every instance (the constant 7 was right 100% of the time; see
    docs/guessability.md). v2 (II-13@2) planted a random palindrome of length 5..15, but random
    letters make palindromes of 5-7 by themselves at large N (the most common answer was right
    12-14% at N = 50, 100) and a short plant often sits inside one shard (own shard right 28% at
    N = 2). v3 plants one random palindrome of length uniform in 10..min(40, L) (odd or even) at a
    uniform random global offset, so it often straddles shards; random letters around it may
    extend it (the truth is whatever is longest). The answer is a small integer (weak), so it
    counts as evidence only when sent by an agent that had reached every shard. Raw evidence:
    the shard's letters (Letters)."""

    id = "II-13"
    slug = "longest-palindrome"
    name = "longest palindrome"
    level = 2
    version = 3
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Boundary exchange: each agent finds palindromes inside its own segment and exchanges boundary "
            "characters with its neighbours to catch palindromes crossing segment borders; the maximum is then "
            "passed along the chain of agents (chain topology).")
    items = 15
    plant_min, plant_max = 10, 40
    span_head, span_tail = "Characters at global positions", ""

    def generate(self, n_agents, rng):
        chars = [rng.choice(string.ascii_lowercase) for _ in range(self.items * n_agents)]
        plant = random_palindrome(rng, rng.randint(min(self.plant_min, len(chars)), min(self.plant_max, len(chars))))
        at = rng.randint(0, len(chars) - len(plant))
        chars[at:at + len(plant)] = plant
        return ["".join(s) for s in split_even(chars, n_agents)], {"items_per_agent": self.items,
                                                                    "length": len(chars)}

    def solve(self, shards, params):
        return [longest_palindrome("".join(shards))] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a consecutive piece of one global string of {params['length']} "
                "lowercase letters: agent 0 holds the first piece, agent 1 the next, and so on; the global string is "
                "their concatenation in agent order. Every agent must submit the length of the longest palindromic "
                "substring (a contiguous run of characters that reads the same forwards and backwards) of the "
                "global string, as an integer.")

    def raw_fingerprint(self, inst, j, i):
        return Letters(inst.shards[j].data)


@register
class LongestPalindromeV2(LongestPalindrome):
    """II-13 v2: one random palindrome of length 5..15 planted."""

    version = 2
    plant_min, plant_max = 5, 15


@register
class LongestPalindromeV1(LongestPalindrome):
    """II-13 v1, the reference's generator: "racecar" planted once at a uniform random global offset."""

    version = 1

    def generate(self, n_agents, rng):
        chars = [rng.choice(string.ascii_lowercase) for _ in range(self.items * n_agents)]
        at = rng.randint(0, len(chars) - len("racecar"))
        chars[at:at + len("racecar")] = "racecar"
        return ["".join(s) for s in split_even(chars, n_agents)], {"items_per_agent": self.items,
                                                                    "length": len(chars)}
