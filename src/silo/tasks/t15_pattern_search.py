"""II-15 pattern search: 20 chars from {A,B,C,D,X,Y,Z} per agent; count greedy A -> B -> C matches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from silo.evidence import AnyOf, Fingerprint, Items, Parsed, Value
from silo.tasks import register
from silo.tasks.common import ChainTask
from silo.tasks.common import instance_memo as _memo
from silo.tasks.sums import per_shard
from silo.tasks.t13_longest_palindrome import Letters

ALPHABET = "ABCDXYZ"
STATES = (0, 1, 2)  # waiting for A, for B, for C


def run_machine(text: str, state: int = 0) -> tuple[int, int]:
    """(end state, completed matches) of the greedy A -> B -> C machine over text from `state`."""
    count = 0
    for ch in text:
        if ch == "ABC"[state]:
            state = (state + 1) % 3
            count += state == 0
    return state, count


def summary(text: str) -> list[list[int]]:
    """The machine's effect on a piece of text: [end state, matches] for each start state."""
    return [list(run_machine(text, s)) for s in STATES]


def _summaries(inst) -> list[list[list[int]]]:
    """Every piece's summary, made once per instance (stat_fingerprint compares one piece's with all N)."""
    memo = _memo(inst)
    got = memo.get("summaries")
    if got is None:
        got = memo["summaries"] = [summary(sh.data) for sh in inst.shards]
    return got


def compose(parts: list[list[list[int]]]) -> int:
    """Total matches over consecutive pieces, from their summaries, starting in state 0."""
    state, total = 0, 0
    for part in parts:
        state, c = part[state]
        total += c
    return total


_AGENT = re.compile(r"\bagent\s*#?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class NotTheirs(Fingerprint):
    """A piece's summary that another piece shares: not in content that names one of those agents and not j
    ("Summary of agent 5's shard: ..." states agent 5's, whichever other piece has the same summary)."""

    part: Fingerprint
    j: int
    others: frozenset[int]

    def matches(self, p: Parsed) -> bool:
        named = {int(m) for m in _AGENT.findall(p.text)}
        return self.part.matches(p) and (self.j in named or not named & self.others)


def _grams(numbers: tuple) -> set[tuple]:
    """The runs of six numbers in content laid out as a summary: end states 0-2 at even places, counts >= 0."""
    runs = (tuple(numbers[k:k + 6]) for k in range(len(numbers) - 5))
    return {g for g in runs if all(x in STATES for x in g[0::2]) and min(g[1::2]) >= 0}


def _then(first: tuple, second: tuple) -> tuple:
    """The flat summary of two consecutive pieces from theirs (the transfer functions composed)."""
    out = []
    for s in STATES:
        mid, count = first[2 * s], first[2 * s + 1]
        out += [second[2 * mid], count + second[2 * mid + 1]]
    return tuple(out)


def _twin(inst, j: int) -> bool:
    """Whether another agent's piece is identical to agent j's."""
    data = inst.shards[j].data
    return any(k != j and sh.data == data for k, sh in enumerate(inst.shards))


@register
class PatternSearch(ChainTask):
    """A state machine scans the global string: waiting for A, then B, then C; a C completes a match
    and resets it to waiting for A. Characters other than the awaited one are ignored.

    Decision (v2, a deviation from the reference): K complete patterns, K uniform in 0..L/3 (L the
    global length), are planted as A, B, C, A, B, C, ... at 3K distinct global positions drawn with
    weights that differ per piece (uniform in [0.05, 1] per agent), so a piece holds an uneven
    share and patterns cross piece boundaries; the other characters are D, X, Y, Z, or (15% of
    them) a stray A, B or C that may shift the count. In v1 (II-15@1, the reference's "2 planted
    A..B..C" read per agent: A, B, C, A, B, C at six random positions of every shard) the count was
    about 2N, so the own count times N was right 86% of the time at N = 2 and the most common
    count 44% at N = 10 (docs/guessability.md).
    Inherent chance 1/7 at N = 2 (0 beyond): the own count doubled is right when the other piece
    counts as many, and a piece of 20 characters completes at most 6 matches. The task is kept
    because the count still needs the state carried across every border. The star partial is a
    real sufficient statistic: for
    each start state, the end state and matches inside the shard (a transfer function that
    composes left to right). Its fingerprint is that summary as an ordered run of six numbers
    in the layout [[end, count] for start 0, 1, 2]: small numbers, so only an exact ordered run
    counts. Raw evidence: the shard's letters (Letters); a piece identical to another agent's (nearly
    every position planted: ABCABC...) shows whose it is only by provenance, so its letters count as a
    statistic of {j} (credited only from an author that had evidence of j)."""

    id = "II-15"
    slug = "pattern-search"
    name = "pattern search"
    level = 2
    version = 2
    answer_format = "a single integer"
    oracle = "star"
    hint = ("Pipelined state machine: agent 0 runs the A->B->C machine over its segment and passes its final state "
            "and count to agent 1, which continues from that state, and so on; the last agent has the total "
            "(chain topology).")
    items = 20
    planted = 2  # v1: patterns per shard
    stray = 0.15  # v2: share of background characters that are A, B or C
    span_head, span_tail = "Characters at global positions", ""

    def generate(self, n_agents, rng):
        length = self.items * n_agents
        chars = [rng.choice("ABC") if rng.random() < self.stray else rng.choice("DXYZ") for _ in range(length)]
        weight = [rng.expovariate(1) + 1e-9 for _ in range(n_agents)]  # each piece's share of the plant
        keys = sorted(range(length), key=lambda p: rng.random() ** (1 / weight[p // self.items]))
        planted = rng.randint(2, length // 3)
        for k, pos in enumerate(sorted(keys[-3 * planted:] if planted else [])):
            chars[pos] = "ABC"[k % 3]
        text = "".join(chars)
        return [text[a * self.items:(a + 1) * self.items] for a in range(n_agents)], {"items_per_agent": self.items}

    def inherent_chance(self, n_agents):
        # at N = 2 the own count doubled is right when the other piece (with what crosses the border)
        # counts as many; a 20-character piece completes at most 6 matches, so that happens ~1 time in 7
        return 1 / 7 if n_agents == 2 else 0.0

    def solve(self, shards, params):
        return [run_machine("".join(shards))[1]] * len(shards)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a consecutive piece of one global string over the letters "
                f"{', '.join(ALPHABET)}: agent 0 holds the first piece, agent 1 the next, and so on; the global "
                "string is their concatenation in agent order. Scan the global string from left to right with a "
                "machine that first waits for an A, then for a B, then for a C, ignoring every other character "
                "while it waits; each C that it finds while waiting for a C completes one match, and the machine "
                "then waits for an A again. Every agent must submit the number of completed matches, as an integer.")

    def raw_fingerprint(self, inst, j, i):
        # a piece identical to another agent's (a string of repeated ABC when nearly every position is
        # planted) cannot tell whose it is: its letters count as a statistic of {j} (stat_fingerprint), i.e.
        # only from an author that had evidence of j, not from any author that merely heard from j
        return None if _twin(inst, j) else Letters(inst.shards[j].data)

    def stat_fingerprint(self, inst, agents, i):
        lo, hi = min(agents), max(agents)
        if len(agents) != hi - lo + 1:
            return None  # only a contiguous piece of the string has a summary
        text = "".join(inst.shards[j].data for j in range(lo, hi + 1))
        run = Items(tuple(x for pair in summary(text) for x in pair), ordered=True)
        if len(agents) == inst.n_agents:
            return AnyOf((run, Value(inst.truth[i])))
        if len(agents) == 1:
            mine = summary(text)
            pieces = _summaries(inst)
            same = frozenset(k for k in range(inst.n_agents) if k != lo and pieces[k] == mine)
            if same:  # another piece has the same six numbers: a summary said to be of one of those is theirs
                run = NotTheirs(run, lo, same)
            if _twin(inst, lo):
                return AnyOf((run, Letters(text)))
        return run

    def stat_sets(self, inst, content, within, i):
        # an unnamed summary of consecutive pieces ("Combined summary: [[0, 13], [0, 13], [0, 14]]"): the runs
        # a..b (2+ pieces) within the author's evidence whose six numbers stand in the content, each only where
        # no other run within it has the same six (a piece without A, B or C leaves a summary as it was)
        grams = _grams(content.numbers)
        if not grams:
            return []
        cap = max(max(g[1::2]) for g in grams)  # counts only grow along a run: longer runs cannot match
        flat = per_shard(inst, "summary", lambda j: tuple(x for pair in summary(inst.shards[j].data) for x in pair))
        runs: dict[tuple, list[tuple[int, int]]] = {}
        for a in sorted(within):
            cur, b = flat[a], a
            while True:
                if cur in grams:
                    runs.setdefault(cur, []).append((a, b))
                b += 1
                if b not in within or min(cur[1::2]) > cap:
                    break
                cur = _then(cur, flat[b])
        return [frozenset(range(a, b + 1)) for found in runs.values() if len(found) == 1
                for a, b in found if b > a]

    def partial(self, data, agent, params):
        return summary(data)

    def combine(self, partials, params):
        return [compose(partials)] * len(partials)


@register
class PatternSearchV1(PatternSearch):
    """II-15 v1, the reference's generator: A, B, C, A, B, C planted at six random positions of every shard."""

    version = 1

    def generate(self, n_agents, rng):
        shards = []
        for _ in range(n_agents):
            chars = [rng.choice(ALPHABET) for _ in range(self.items)]
            for pos, ch in zip(sorted(rng.sample(range(self.items), 3 * self.planted)), "ABC" * self.planted,
                               strict=True):
                chars[pos] = ch
            shards.append("".join(chars))
        return shards, {"items_per_agent": self.items}
