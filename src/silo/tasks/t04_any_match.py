"""I-04 any match: 15 log lines per agent, maybe one ERROR line; every agent submits whether any exists."""

from __future__ import annotations

from silo.evidence import AllOf, AnyOf, Items, Near, Value, answer_fingerprint, parse
from silo.tasks import register
from silo.tasks.common import StarReduce, check_value

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
        if agents >= self.depends_on(inst, i):
            alts.append(answer_fingerprint(inst.truth[i]))
        return AnyOf(tuple(alts))


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
