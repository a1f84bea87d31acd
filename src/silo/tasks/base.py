"""The task contract: generator, reference solver, checker, dependencies, evidence rules."""

from __future__ import annotations

import hashlib
import json
import random
from functools import lru_cache
from typing import Any, ClassVar, Literal

from silo.evidence import Fingerprint, Items, Parsed, answer_fingerprint
from silo.records import Instance, Shard


def derive_seed(suite_seed: int, task_id: str, n_agents: int, replicate: int) -> int:
    """Instance seed from (suite seed, task, N, replicate): independent of generation order."""
    key = f"silo|{suite_seed}|{task_id}|{n_agents}|{replicate}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


@lru_cache(maxsize=64)
def _everyone(n: int) -> frozenset[int]:
    """{0..n-1}, one object per n (the scorer asks for a global task's depends_on once per set and receiver)."""
    return frozenset(range(n))


def split_even(items: list, n: int) -> list[list]:
    """Contiguous equal slices; the last agent takes any remainder."""
    size = len(items) // n
    return [items[i * size:(i + 1) * size] if i < n - 1 else items[i * size:] for i in range(n)]


def as_number(x: Any) -> float | None:
    """Coerce an answer to a number (accepts numeric strings); None if impossible."""
    if isinstance(x, bool):
        return None
    try:  # a 400-digit integer has no float: unreadable, not a crash
        if isinstance(x, (int, float)):
            return float(x)
        if isinstance(x, str):
            return float(x.strip())
    except (ValueError, OverflowError):
        return None
    return None


def as_int_list(x: Any) -> list[int] | None:
    """Coerce an answer to a list of ints (accepts a JSON string of a list)."""
    if isinstance(x, str):
        try:
            x = json.loads(x)
        except (ValueError, RecursionError):
            return None
    if not isinstance(x, list):
        return None
    out = []
    for v in x:
        f = as_number(v)
        if f is None or not f.is_integer():
            return None
        out.append(int(f))
    return out


class TaskSpec:
    """Base class of every task. Subclasses set the class attributes and override hooks."""

    id: ClassVar[str]
    slug: ClassVar[str]
    name: ClassVar[str]
    level: ClassVar[int]
    version: ClassVar[int] = 1
    answer_kind: ClassVar[Literal["global", "segmented"]] = "global"
    answer_format: ClassVar[str] = "a JSON value"
    tolerance: ClassVar[float] = 0.0
    oracle: ClassVar[str] = "star"  # scripted oracle strategy: star | chain | halo
    optimal_topology: ClassVar[str] = "star"
    hint: ClassVar[str] = ""  # the reference generator's algorithm + topology text (hints ablation only)

    @property
    def key(self) -> str:
        """How to ask for exactly this version: 'I-03' for the default, 'I-03@1' for a pinned older one."""
        from silo.tasks import get_task

        return self.id if get_task(self.id).version == self.version else f"{self.id}@{self.version}"

    def inherent_chance(self, n_agents: int) -> float:
        """Chance that a trivial strategy is right which the task cannot avoid (see its docstring; default 0).

        The guessability budget (silo.guess) is max(10%, this) at every N of the grid."""
        return 0.0

    # ---- generation -------------------------------------------------------------
    def generate(self, n_agents: int, rng: random.Random) -> tuple[list[Any], dict]:
        """Per-agent shard data and public params."""
        raise NotImplementedError

    def solve(self, shards: list[Any], params: dict) -> list[Any]:
        """Reference solver: the correct answer of every agent."""
        raise NotImplementedError

    def describe(self, n_agents: int, params: dict) -> str:
        """Role-agnostic statement of the task (no algorithm, no topology)."""
        raise NotImplementedError

    def render_shard(self, data: Any, agent: int, params: dict) -> str:
        """The shard as shown in the prompt."""
        return json.dumps(data)

    def optimal_messages(self, n_agents: int) -> int:
        """Message count of the optimal topology (for redundancy ratios)."""
        return 2 * (n_agents - 1)

    # ---- checking ---------------------------------------------------------------
    def check(self, answer: Any, truth: Any) -> tuple[bool, float]:
        """(correct, partial credit in [0, 1])."""
        if self.tolerance:
            a, t = as_number(answer), as_number(truth)
            ok = a is not None and t is not None and abs(a - t) <= self.tolerance + 1e-9
        else:
            ok = _canon(answer) == _canon(truth)
        return ok, 1.0 if ok else 0.0

    # ---- information -------------------------------------------------------------
    def depends_on(self, inst: Instance, agent: int) -> frozenset[int]:
        """Agents whose shards determine this agent's answer."""
        return _everyone(inst.n_agents)

    raw_per_receiver: ClassVar[bool] = True
    """Whether raw_fingerprint(inst, j, i) may differ by receiver i; False: the scorer makes it once per shard
    (tests/test_replay_speed_tasks.py checks that it is the same for every receiver)."""

    def raw_fingerprint(self, inst: Instance, j: int, i: int) -> Fingerprint | None:
        """What of agent j's raw shard agent i must see (default: all its numbers)."""
        return Items(tuple(_numbers(inst.shards[j].data)))

    def stat_fingerprint(self, inst: Instance, agents: frozenset[int], i: int) -> Fingerprint | None:
        """The sufficient statistic of a set of shards, as agent i needs it.

        Default: only the answer itself, once the set covers depends_on(i)."""
        if agents >= self.depends_on(inst, i):
            return answer_fingerprint(inst.truth[i], self.tolerance)
        return None

    def stat_receiver(self, inst: Instance, agents: frozenset[int], i: int) -> int:
        """For a segmented task's scorer: -1 where stat_fingerprint and claim_fingerprint of `agents` are the same for
        receiver i as for every other receiver given -1 for the set (made once per set, not once per (set,
        receiver)); else i (the default). tests/test_replay_speed_tasks.py checks the declaration."""
        return i

    def credit_receiver(self, inst: Instance, prov: frozenset[int], i: int) -> int:
        """For a segmented task's scorer: -1 where what content of provenance `prov` shows receiver i (its shards
        still missing alike) is the same as for every other receiver given -1 for prov: its candidate_sets and
        stat_sets are the same, raw_per_receiver is False, and every subset of prov has stat_receiver -1 and does
        not cover depends_on(i) (then the search is made once per content, not once per receiver); else i (the
        default). tests/test_replay_speed_tasks.py checks the declaration."""
        return i

    def claim_fingerprint(self, inst: Instance, agents: frozenset[int], i: int) -> Fingerprint | None:
        """A short statement of the set's sufficient statistic ("apple: 5", "XOR = 200", a running count).

        Short enough to occur by chance in arbitrary numbers, so the scorer credits a claim only from
        an author that had evidence of every shard of the set (as for every statistic since scorer v2),
        and only where the measured chance-match rate is under the threshold (docs/design.md)."""
        return None

    def stat_sets(self, inst: Instance, content: Parsed, within: frozenset[int], i: int) -> list[frozenset[int]]:
        """Evidence hook: sets S within the author's evidence whose statistic the parsed content may state,
        found from the content itself (e.g. a subset whose summed counts appear); default none."""
        return []

    def candidate_sets(self, inst: Instance, upstream: frozenset[int], i: int) -> list[frozenset[int]]:
        """Sets of shards whose statistic content may carry (besides singletons).

        `upstream` is the content's provenance: the shards its author had evidence of (scorer v2)."""
        return [upstream]

    # ---- scripted oracle hooks ----------------------------------------------------
    def partial(self, data: Any, agent: int, params: dict) -> Any:
        """What an agent sends to the star centre (default: its raw shard)."""
        return data

    def combine(self, partials: list[Any], params: dict) -> list[Any]:
        """Answers of every agent from all partials (default: solve on raw shards)."""
        return self.solve(partials, params)

    def chain_init(self, params: dict) -> Any:
        """Carry agent 0 starts a chain with (oracle = "chain")."""
        raise NotImplementedError

    def chain_step(self, carry: Any, data: Any, agent: int, params: dict) -> tuple[Any, Any]:
        """(this agent's answer, carry for the next agent) from the incoming carry."""
        raise NotImplementedError

    def halo_out(self, data: Any, agent: int, to: int, params: dict) -> Any:
        """What `agent` sends to dependent agent `to` (oracle = "halo")."""
        raise NotImplementedError

    def halo_answer(self, data: Any, agent: int, received: dict[int, Any], params: dict) -> Any:
        """This agent's answer from its shard and the halos it received."""
        raise NotImplementedError

    # ---- instances ----------------------------------------------------------------
    def make_instance(self, n_agents: int, suite_seed: int = 0, replicate: int = 0) -> Instance:
        """Generate a self-contained instance; deterministic in its arguments."""
        if n_agents < 1:
            raise ValueError(f"N must be >= 1, got {n_agents}")
        seed = derive_seed(suite_seed, self.id, n_agents, replicate)
        data, params = self.generate(n_agents, random.Random(seed))
        truth = self.solve(data, params)
        shards = [Shard(agent=a, data=d, text=self.render_shard(d, a, params)) for a, d in enumerate(data)]
        return Instance(
            id=f"{self.id}-v{self.version}-n{n_agents}-s{suite_seed}-r{replicate}",
            task=self.id, task_version=self.version, level=self.level, seed=seed,
            suite_seed=suite_seed, replicate=replicate, n_agents=n_agents,
            answer_kind=self.answer_kind, description=self.describe(n_agents, params),
            answer_format=self.answer_format, params=params, shards=shards, truth=truth,
        )


def covering_sets(content: Parsed, within: frozenset[int], items: dict[int, set]) -> list[frozenset[int]]:
    """stat_sets helper for set statistics (a union of values, the nodes an edge set touches): the largest
    set of shards whose items all appear in the content, if their union is exactly the content's items
    of that kind (so a summary of some of the shards an author holds is recognised)."""
    shown = set(content.counts)
    inside = frozenset(j for j in within if items[j] and items[j] <= shown)
    if len(inside) < 2:
        return []
    union = set().union(*(items[j] for j in inside))
    domain = set().union(*items.values())
    return [inside] if union == shown & domain else []


def partial_elements(answer: Any, truth: list) -> float:
    """Level II partial credit: share of positions of the truth list answered correctly."""
    if not isinstance(answer, list):
        try:
            answer = json.loads(answer) if isinstance(answer, str) else None
        except (ValueError, RecursionError):
            answer = None
    if not isinstance(answer, list) or not truth:
        return 0.0
    return sum(_canon(a) == _canon(t) for a, t in zip(answer, truth, strict=False)) / len(truth)


def partial_ordered(answer: Any, truth: list) -> float:
    """Level III partial credit: longest common subsequence with the truth / its length."""
    from silo.tasks.common import as_list, ordered_partial

    got = as_list(answer)
    return ordered_partial(got, truth) if got is not None and truth else 0.0


def wrong_answer(answer: Any) -> Any:
    """A deterministic, certainly wrong variant of an answer (the miscompute team)."""
    if isinstance(answer, bool):
        return not answer
    if isinstance(answer, int):
        return answer + 1
    if isinstance(answer, float):
        return round(answer + 1.0, 6)
    if isinstance(answer, str):
        return answer + "_x"
    if isinstance(answer, list):
        return [wrong_answer(answer[0]), *answer[1:]] if answer else [0]
    if isinstance(answer, dict):
        if not answer:
            return {"x": 0}
        k = next(iter(answer))
        return {**answer, k: wrong_answer(answer[k])}
    return 0 if answer is None else None


CANON_DEPTH = 64  # answers nested deeper compare as one opaque value (no task's answer is nearly this deep)
_TOO_DEEP = "\x00[nested too deeply]"


def _canon(x: Any, depth: int = 0) -> Any:
    """Canonical form for exact comparison: numeric strings and floats that are ints. Never raises:
    hostile answers (deep nesting, strings of thousands of digits) get an opaque form."""
    if depth > CANON_DEPTH:
        return _TOO_DEEP
    if isinstance(x, bool):
        return x
    if isinstance(x, str):
        s = x.strip()
        try:
            return _canon(json.loads(s), depth + 1)
        except (ValueError, RecursionError):
            return s.lower()
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, (list, tuple)):
        return [_canon(v, depth + 1) for v in x]
    if isinstance(x, dict):
        return {str(k): _canon(v, depth + 1) for k, v in x.items()}
    return x


def _numbers(x: Any) -> list:
    if isinstance(x, bool):
        return []
    if isinstance(x, (int, float)):
        return [x]
    if isinstance(x, dict):
        return [n for v in x.values() for n in _numbers(v)]
    if isinstance(x, (list, tuple)):
        return [n for v in x for n in _numbers(v)]
    return []


def instance_hash(inst: Instance) -> str:
    """Stable content hash of an instance (golden files)."""
    blob = json.dumps(inst.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
