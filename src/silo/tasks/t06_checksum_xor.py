"""I-06 checksum XOR: 20 bytes in [0, 255] per agent; every agent submits the XOR of all bytes."""

from __future__ import annotations

from functools import reduce
from operator import xor

from silo.evidence_claims import Near
from silo.tasks import register
from silo.tasks.base import as_number
from silo.tasks.common import check_value
from silo.tasks.t02_word_frequency import CountsReduce

BITS = 8


@register
class ChecksumXor(CountsReduce):
    """Bitwise XOR of every byte held by every agent, as a decimal integer in [0, 255].

    Star partial: {"xor": the shard's XOR, "bit_counts": [how many bytes have bit b set,
    b = 0..7]}. The XOR alone is sufficient, but a single number in 0..255 matches any
    byte of any other shard by chance (1 in 256 per number); the per-bit counts (an ordered
    run of 8 counts, XOR bit b = count b mod 2, added across shards) are recognisable.
    The checker also accepts "0x.." hexadecimal and "0b.." binary strings.
    Raw evidence: the multiset of the shard's 20 bytes.
    """

    id = "I-06"
    slug = "checksum-xor"
    name = "checksum XOR"
    level = 1
    version = 1
    answer_format = "a single integer between 0 and 255 (decimal)"
    oracle = "star"
    optimal_topology = "star"
    hint = ("Reduce: each agent XORs its bytes and sends the result to one agent, which XORs the results "
            "and shares the checksum with everyone (star topology).")
    labels = tuple(f"bit{b}" for b in range(BITS))
    items = 20

    def generate(self, n_agents, rng):
        return [[rng.randint(0, 255) for _ in range(self.items)] for _ in range(n_agents)], {}

    def solve(self, shards, params):
        answer = reduce(xor, (v for s in shards for v in s), 0)
        return [answer] * len(shards)

    def counts(self, data, params):
        return [sum((v >> b) & 1 for v in data) for b in range(BITS)]

    def from_counts(self, totals, params):
        return sum(1 << b for b, c in enumerate(totals) if c % 2)

    def scalar_fingerprint(self, totals, params):
        # the XOR itself (decimal, 0x.. or 0b..) near the word that names it
        return Near(("xor", "checksum", "parity"), self.from_counts(totals, params), public=(self.items,))

    def partial(self, data, agent, params):
        return {"xor": reduce(xor, data, 0), "bit_counts": self.counts(data, params)}

    def combine(self, partials, params):
        totals = [sum(p["bit_counts"][b] for p in partials) for b in range(BITS)]
        answer = self.from_counts(totals, params)
        return [answer] * len(partials)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold a list of bytes (integers from 0 to 255). Every agent must submit "
                "the bitwise XOR of all bytes held by all agents, as a decimal integer.")

    def render_shard(self, data, agent, params):
        return ", ".join(map(str, data))

    def check(self, answer, truth):
        return check_value(_parse_int(answer), truth)


def _parse_int(answer) -> int | None:
    """An integer from an int, a numeric string, or a 0x / 0b prefixed string."""
    if isinstance(answer, str) and answer.strip().lower().startswith(("0x", "0b")):
        try:
            return int(answer.strip(), 0)
        except ValueError:
            return None
    f = as_number(answer)
    return int(f) if f is not None and f.is_integer() else None
