"""I-04 any match: 15 log lines per agent, maybe one ERROR line; every agent submits whether any exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from silo.evidence import AllOf, AnyOf, Fingerprint, Items, Parsed, Value, answer_fingerprint, parse
from silo.evidence_claims import Near
from silo.tasks import register
from silo.tasks.common import StarReduce, check_value
from silo.tasks.sums import per_shard

NORMAL = (
    "INFO: user {a} logged in",
    "INFO: request {a} served in {b} ms",
    "DEBUG: cache hit for key {a}",
    "WARN: slow query took {b} ms",
    "INFO: job {a} completed",
    "WARN: retrying upload {a}",
)
ERRORS = (
    "ERROR: disk write failed on volume {a}",
    "ERROR: connection refused by host {a}",
    "ERROR: payment {a} timed out",
)
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}


def is_error(line: str) -> bool:
    """A line is an error line when its level (the word after the timestamp) is ERROR."""
    return "] ERROR:" in line  # lines are "[t] LEVEL: message"; messages never contain "]"


@register
class AnyMatch(StarReduce):
    """Whether any line of the global log is an ERROR line.

    Decisions: every shard has 15 ordinary lines; with probability p(N) ONE ERROR line is inserted
    into the whole log (a random agent's shard, at a random position, making it 16 lines). The
    per-shard reading of the reference (v1, I-04@1: an independent coin per shard) makes the answer
    true with probability 1 - 2^-N, i.e. a constant "true" is right ~always at N >= 5. v2 (I-04@2)
    used p = 0.5, but then an agent answering from its own shard is right 1/2 + 1/(2N) of the time
    (75% at N = 2). v3: p(N) = N / (2N - 1) for N >= 2 (0.5 at N = 1), which makes the constant
    "true" and the own-shard answer equally good, both right N / (2N - 1) of the time, the least a
    boolean allows when the evidence is one line in one shard.
    Inherent chance N / (2N - 1) (67% at N = 2, 53% at 10, 50.3% at 100): a yes/no answer is right
    half the time by a coin, and the agent holding the ERROR line knows the answer alone. The task
    is kept because the other agents cannot tell "no ERROR line" from "an ERROR line elsewhere"
    without hearing from everyone. Every line starts with a global, strictly increasing timestamp "[t]".
    Star partial: {"first": t, "last": t, "errors": count} - what the agent scanned and found.
    Evidence guards: the boolean is weak, so a shard's statistic is recognised by the two
    timestamps that bound it (10-digit numbers unique in the log), or (for one shard) by the
    timestamp of its ERROR line; the answer alone counts only for content covering every shard.
    Raw evidence: the multiset of every number in the shard's lines.
    """

    id = "I-04"
    slug = "any-match"
    name = "any match"
    level = 1
    version = 3
    answer_format = "true or false (a JSON boolean)"
    oracle = "star"
    optimal_topology = "star"
    hint = ('Reduce: each agent checks its lines for one starting with "ERROR:" and sends true/false to one '
            "agent, which ORs the flags and shares the result with everyone (star topology).")
    items = 15

    def generate(self, n_agents, rng):
        messages = []
        for _ in range(n_agents):
            shard = [rng.choice(NORMAL).format(a=rng.randint(1000, 9999), b=rng.randint(10, 999))
                     for _ in range(self.items)]
            messages.append(shard)
        if rng.random() < self.error_chance(n_agents):
            shard = messages[rng.randrange(n_agents)]
            shard.insert(rng.randint(0, len(shard)), rng.choice(ERRORS).format(a=rng.randint(10, 99)))
        t = rng.randint(1_700_000_000, 1_799_000_000)
        shards = []
        for shard in messages:
            lines = []
            for m in shard:
                t += rng.randint(1, 60)
                lines.append(f"[{t}] {m}")
            shards.append(lines)
        return shards, {"pattern": "ERROR"}

    def error_chance(self, n_agents: int) -> float:
        """Probability that the log holds its one ERROR line."""
        return n_agents / (2 * n_agents - 1) if n_agents > 1 else 0.5

    def inherent_chance(self, n_agents):
        # the least any generator allows (v3's p): constant "true" and the own shard are then equally right
        p = n_agents / (2 * n_agents - 1) if n_agents > 1 else 0.5
        return max(p, 1 - p + p / n_agents)

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold some lines of one log file. Each line is a timestamp in "
                "brackets, a level (INFO, DEBUG, WARN or ERROR), a colon and a message. Every agent must "
                "submit true if at least one line held by any agent has level ERROR, otherwise false.")

    def render_shard(self, data, agent, params):
        return "\n".join(data)

    def check(self, answer, truth):
        return check_value(_parse_bool(answer), truth)

    def partial(self, data, agent, params):
        return {"first": _stamp(data[0]), "last": _stamp(data[-1]), "errors": sum(map(is_error, data))}

    def combine(self, partials, params):
        found = any(p["errors"] > 0 for p in partials)
        return [found] * len(partials)

    def raw_fingerprint(self, inst, j, i):
        return Items(parse("\n".join(inst.shards[j].data)).numbers)

    def stat_fingerprint(self, inst, agents, i):
        shards = [inst.shards[j].data for j in sorted(agents)]
        parts = [AllOf((Value(_stamp(s[0])), Value(_stamp(s[-1])))) for s in shards]
        shard_fp = AllOf(tuple(parts))
        alts = [shard_fp]
        if len(shards) == 1:  # a single shard is also identified by its ERROR line's timestamp
            alts += [Value(_stamp(line)) for line in shards[0] if is_error(line)]
        elif sorted(agents) == list(range(min(agents), max(agents) + 1)):  # contiguous: its merged summary
            alts.append(Bounds(_stamp(shards[0][0]), _stamp(shards[-1][-1])))
        if agents >= self.depends_on(inst, i):
            alts.append(answer_fingerprint(inst.truth[i]))
        return AnyOf(tuple(alts))

    def stat_sets(self, inst, content, within, i):
        # a merged summary of contiguous shards a..b the author holds, named or not: shard a's first and shard
        # b's last timestamp as near neighbours
        ends = per_shard(inst, "ends", lambda j: (_stamp(inst.shards[j].data[0]), _stamp(inst.shards[j].data[-1])))
        first = {ends[j][0]: j for j in within}
        last = {ends[j][1]: j for j in within}
        seq, found = _bounds(content.text), []
        for n, x in enumerate(seq):
            a = first.get(x)
            for y in seq[max(0, n - 2):n + 3] if a is not None else ():
                b = last.get(y, -1)
                if b > a and within >= frozenset(range(a, b + 1)):
                    found.append(frozenset(range(a, b + 1)))
        return list(dict.fromkeys(found))

    def claim_fingerprint(self, inst, agents, i):
        # "none of my lines is an ERROR": only for one shard without one (the scorer credits claims of a single
        # shard only to its own author); a shard with its ERROR line is shown by the line's timestamp instead
        if len(agents) != 1 or any(map(is_error, inst.shards[next(iter(agents))].data)):
            return None
        return Near(("error",), words=_NEGATIONS, also=(("line", "log", "entr"),))  # about its log, not its tools


@register
class AnyMatchV2(AnyMatch):
    """I-04 v2: the one ERROR line is in the log with probability 0.5 at every N."""

    version = 2

    def error_chance(self, n_agents):
        return 0.5


@register
class AnyMatchV1(AnyMatch):
    """I-04 v1, the reference's generator: every shard gets its own ERROR line with probability 0.5."""

    version = 1

    def generate(self, n_agents, rng):
        messages = []
        for _ in range(n_agents):
            shard = [rng.choice(NORMAL).format(a=rng.randint(1000, 9999), b=rng.randint(10, 999))
                     for _ in range(self.items)]
            if rng.random() < 0.5:
                shard.insert(rng.randint(0, len(shard)), rng.choice(ERRORS).format(a=rng.randint(10, 99)))
            messages.append(shard)
        t = rng.randint(1_700_000_000, 1_799_000_000)
        shards = []
        for shard in messages:
            lines = []
            for m in shard:
                t += rng.randint(1, 60)
                lines.append(f"[{t}] {m}")
            shards.append(lines)
        return shards, {"pattern": "ERROR"}


@dataclass(frozen=True)
class Bounds(Fingerprint):
    """The first timestamp of shard a and the last of shard b > a as near neighbours (at most one number between
    them, either order: {"first": t, "last": u, "errors": 0} with its keys in any order): a merged summary of
    the contiguous shards a..b (the chatty team makes it only for contiguous sets). A stamp in log-line
    brackets "[t]" is not a bound: pasted lines of shard b followed by those of shard a show none."""

    first: int
    last: int

    def matches(self, p: Parsed) -> bool:
        seq = _bounds(p.text)
        at = [n for n, x in enumerate(seq) if x == self.last]
        return any(abs(n - m) <= 2 for n, x in enumerate(seq) if x == self.first for m in at)


@lru_cache(maxsize=50000)
def _bounds(text: str) -> tuple[int, ...]:
    """The integers of a text in order, thousands groups read whole, without those in log-line brackets "[t]"."""
    return tuple(int(m.group().replace(",", "")) for m in _INT.finditer(text)
                 if not (text[m.start() - 1:m.start()] == "[" and text[m.end():m.end() + 1] == "]"))


_INT = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d,]*\d)|(?<![\w.\-])\d+(?!\.?\d)")


_NEGATIONS = ("no", "none", "not", "zero", "without", "false", "nothing", "never")


def _stamp(line: str) -> int:
    return int(line[1:line.index("]")])


def _parse_bool(answer) -> bool | None:
    """True/False from a boolean or a true/false/yes/no string (any case, optional quotes)."""
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str):
        s = answer.strip().strip("\"'").strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None
