"""I-03 distributed vote: 25 votes over 4 candidates per agent; every agent submits the winner."""

from __future__ import annotations

from collections import Counter

from silo.evidence import Words
from silo.tasks import register
from silo.tasks.base import split_even
from silo.tasks.t02_word_frequency import CountsReduce

CANDIDATES = ("Alice", "Bob", "Carol", "Dave")


@register
class Vote(CountsReduce):
    """The candidate with the most votes over every agent's ballots.

    Decisions: the global ballot list has 25 votes per agent; one winner is drawn uniformly
    per instance and global positions 0, 2, 4, ... (every 2nd vote, 0-based) go to it, the
    other votes are uniform over the 4 candidates. A tie for the most votes (only possible
    in principle) goes to the alphabetically first tied name. Names compare case-insensitively.
    Star partial: the shard's tally of all 4 candidates in fixed order (ordered run of 4 counts).
    Raw evidence: the shard's multiset of 25 names.
    """

    id = "I-03"
    slug = "vote"
    name = "distributed vote"
    level = 1
    version = 1
    answer_format = 'the winning candidate\'s name as a string, e.g. "Alice"'
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent tallies the votes in its list and sends the tally to one agent, which adds the "
            "tallies and shares the candidate with the most votes (star topology).")
    labels = CANDIDATES
    items = 25

    def generate(self, n_agents, rng):
        winner = rng.choice(CANDIDATES)
        votes = [winner if p % 2 == 0 else rng.choice(CANDIDATES) for p in range(self.items * n_agents)]
        return split_even(votes, n_agents), {"candidates": list(CANDIDATES)}

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

    def raw_fingerprint(self, inst, j, i):
        return Words(tuple(inst.shards[j].data))
