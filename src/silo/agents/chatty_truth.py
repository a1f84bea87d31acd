"""The chatty team's bookkeeping: what its content truly carries, and so who truly holds what (never the scorer's).

Content carries Facts, each with an exact meaning for each reader (from the task's own hooks):

  raw j      shard j pasted in full (any format)                       -> {j}, for every reader
  part j     task.partial of shard j, correct                          -> {j}
  set S      a merged statistic of S (Semantics.merged)                -> S
  carry k    the chain carry after agent k (task.chain_step), correct  -> {0..k}, for readers r > k
  halo j,t   task.halo_out(j -> t), correct                            -> {j}, for reader t only
  ans t      the correct answer of agent t, by an author who could     -> global task: depends_on(r);
             compute it (its facts cover depends_on(t))                   chain task: {0..t} for r >= t;
                                                                          else depends_on(t) for r = t
A fact is only written where every possible reader is one it is defined for (Semantics.allowed: a carry
never goes backwards, a halo or segmented answer only to its agent), so no reader can combine facts into
more than the union of what they give. Everything else the team says carries nothing (see chatty.py).
Reach is content-free and exact, as docs/design.md defines it: a send or write snapshots the author's
set, a delivery or read merges it, a listing merges every listed file's snapshot.

held(i) = depends_on(i) within both i's reach and the shards its facts inform, at submit time.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from silo.agents.chatty_text import drop, items_of
from silo.records import Instance
from silo.tasks.base import TaskSpec

# tasks whose partial names the bounds of what it summarises (I-04: the first and last timestamps): a merged
# statistic of a set with gaps would claim the shards in between, so it is only made for contiguous sets
BOUNDED = frozenset({"I-04"})


@dataclass(frozen=True)
class Fact:
    """One true piece of information a content carries (see the module docstring)."""

    kind: str  # raw | part | set | carry | halo | ans
    j: int
    to: int = -1
    group: frozenset[int] = frozenset()  # kind "set": the shards a merged statistic summarises


class Semantics:
    """What each fact tells each reader, for one instance, from the task's own hooks."""

    def __init__(self, task: TaskSpec, inst: Instance):
        self.task, self.inst, self.n = task, inst, inst.n_agents
        self.dep = [frozenset(task.depends_on(inst, a)) for a in range(self.n)]
        self.chain = task.oracle == "chain"
        self.halo = task.oracle == "halo"
        self.segmented = inst.answer_kind == "segmented"
        self.data = [s.data for s in inst.shards]
        self.carries = self._carries() if self.chain else []
        self.withheld = [self._withheld(j) for j in range(self.n)]
        self._merged: dict[frozenset[int], Any] = {}

    def gives(self, f: Fact, r: int) -> frozenset[int]:
        if f.kind in ("raw", "part"):
            return frozenset({f.j})
        if f.kind == "set":
            return f.group
        if f.kind == "halo":
            return frozenset({f.j}) if r == f.to else frozenset()
        if f.kind == "carry":
            return frozenset(range(f.j + 1)) if r > f.j else frozenset()
        if not self.segmented:  # ans of a global task: the same answer for every agent
            return self.dep[r] if self.dep[r] == self.dep[f.j] else frozenset()
        if self.chain:  # a chain agent's answer ends with (or is) its carry
            return frozenset(range(f.j + 1)) if r >= f.j else frozenset()
        return self.dep[r] if r == f.j else frozenset()

    def allowed(self, f: Fact, r: int) -> bool:
        """Whether fact f may reach reader r: only where gives() is exact (never backwards, never astray)."""
        if f.kind == "carry":
            return r > f.j
        if f.kind == "halo":
            return r == f.to
        if f.kind == "ans" and self.segmented:
            return r >= f.j if self.chain else r == f.j
        return True

    def informs(self, facts, r: int) -> frozenset[int]:
        """Shards whose information `facts` give reader r."""
        out: set[int] = set()
        for f in facts:
            out |= self.gives(f, r)
        return frozenset(out)

    def can_answer(self, facts, t: int) -> bool:
        return self.dep[t] <= self.informs(facts, t)

    def can_carry(self, facts, k: int) -> bool:
        """Whether an agent with `facts` can compute the chain carry after agent k."""
        while k >= 0:
            if Fact("carry", k) in facts or Fact("ans", k) in facts:
                return True
            if Fact("raw", k) not in facts and Fact("part", k) not in facts:
                return False
            k -= 1
        return True

    def merged(self, group: frozenset[int]) -> Any:
        """task.partial of the shards of `group` taken as one shard (their data concatenated in agent order),
        when that is a real statistic of the group: it and the other shards' partials combine to the answer,
        the group is contiguous on ordered (level II) data, and the partial is not the raw data itself.
        None otherwise."""
        if group not in self._merged:
            self._merged[group] = self._merge(group)
        return self._merged[group]

    def _merge(self, group: frozenset[int]) -> Any:
        task, params, data = self.task, self.inst.params, self.data
        first = min(group)
        if self.segmented or len(group) < 2 or not all(isinstance(data[j], (list, str)) for j in group):
            return None
        if (task.level == 2 or task.id in BOUNDED) and group != frozenset(range(first, max(group) + 1)):
            return None
        joined = "".join(data[j] for j in sorted(group)) if isinstance(data[first], str) else \
            [v for j in sorted(group) for v in data[j]]
        try:
            value = task.partial(joined, first, params)
            if value == joined:
                return None
            parts = [value if k == first else task.partial(data[k], k, params)
                     for k in range(self.n) if k == first or k not in group]
            ok = task.check(task.combine(parts, params)[0], self.inst.truth[0])[0]
        except Exception:  # the task's partial or combine does not take a merged shard
            return None
        return value if ok else None

    def _carries(self) -> list[Any]:
        carry, out = self.task.chain_init(self.inst.params), []
        for k, d in enumerate(self.data):
            _, carry = self.task.chain_step(carry, d, k, self.inst.params)
            out.append(carry)
        return out

    def _withheld(self, j: int) -> frozenset[int] | None:
        """Items of shard j no partial list ever shows: both ends, a random fifth, and (I-04) any ERROR
        line, grown until the rest's partial differs from the shard's; None if nothing would remain."""
        data, size = self.data[j], items_of(self.data[j])
        if size < 4:
            return None
        rng = random.Random(f"chatty-withheld|{self.inst.id}|{j}")
        hold = {0, size - 1} | {k for k in range(size) if rng.random() < 0.2}
        if isinstance(data, list):
            hold |= {k for k, v in enumerate(data) if isinstance(v, str) and "ERROR" in v}
        order = [k for k in range(size) if k not in hold]
        rng.shuffle(order)
        while not self._differs(j, drop(data, frozenset(hold))):
            if len(order) <= 1:
                return None
            hold.add(order.pop())
        return frozenset(hold) if size - len(hold) >= 2 else None

    def _differs(self, j: int, sub: Any) -> bool:
        try:
            return self.task.partial(sub, j, self.inst.params) != self.task.partial(self.data[j], j, self.inst.params)
        except Exception:  # a partial that cannot even be computed on the rest carries nothing
            return True


class Ledger:
    """The team's bookkeeping: true reach and facts of every agent, updated from what it really read."""

    def __init__(self, task: TaskSpec, inst: Instance, protocol: str):
        self.task, self.inst, self.protocol = task, inst, protocol
        self.sem = Semantics(task, inst)
        n = inst.n_agents
        self.reach = [{a} for a in range(n)]
        self.facts: list[set[Fact]] = [{Fact("raw", a)} for a in range(n)]
        self._mail: dict[tuple, deque] = defaultdict(deque)
        self._files: dict[str, tuple[frozenset, frozenset]] = {}
        self.records: dict[int, dict] = {}
        self.sent_kinds: dict[str, int] = defaultdict(int)

    def send(self, author: int, readers: list[int], facts: set[Fact]) -> None:
        """A message the engine accepted; delivery to each reader keeps the order of sends (sender, then id)."""
        assert all(self.sem.allowed(f, r) for f in facts for r in readers), (facts, readers)
        snap = (frozenset(self.reach[author]), frozenset(facts))
        for r in readers:
            self._mail[(author, r)].append(snap)

    def write(self, author: int, path: str, facts: set[Fact], readers: list[int]) -> None:
        """A file the engine accepted (paths are never reused); `readers` are every agent that may read it."""
        assert all(self.sem.allowed(f, r) for f in facts for r in readers), (facts, readers)
        self._files[path] = (frozenset(self.reach[author]), frozenset(facts))

    def deliver(self, reader: int, sender: int) -> None:
        self._merge(reader, self._mail[(sender, reader)].popleft())

    def listed(self, reader: int, paths: list[str]) -> None:
        for p in paths:
            self.reach[reader] |= self._files[p][0]

    def read(self, reader: int, path: str) -> None:
        self._merge(reader, self._files[path])

    def _merge(self, r: int, snap: tuple[frozenset, frozenset]) -> None:
        self.reach[r] |= snap[0]
        self.facts[r] |= snap[1]
        assert self.sem.informs(self.facts[r], r) <= self.reach[r]  # information never outruns reach

    def truth(self, a: int, rnd: int | None, answer: Any, mode: str) -> dict:
        """The constructed truth of agent a now (submitted with `answer` in round `rnd`, or not at all)."""
        dep = self.sem.dep[a]
        info = self.sem.informs(self.facts[a], a) & dep
        reach = frozenset(self.reach[a]) & dep
        held = info == dep and reach == dep
        submitted = rnd is not None
        correct = submitted and self.task.check(answer, self.inst.truth[a])[0]
        via: dict[str, list[str]] = defaultdict(list)  # shard -> kinds of the facts that inform it
        for f in self.facts[a]:
            for j in self.sem.gives(f, a) & dep:
                via[str(j)].append(f.kind)
        return {"agent": a, "round": rnd, "mode": mode, "dep": sorted(dep), "reach": sorted(reach),
                "info": sorted(info), "via": {j: sorted(set(k)) for j, k in sorted(via.items())},
                "held": held, "correct": bool(correct),
                "outcome": classify(submitted, bool(correct), reach == dep, held)}

    def final(self) -> list[dict]:
        """Truth of every agent: its record at submit, or its state at the end for agents that never did."""
        return [self.records.get(a) or self.truth(a, None, None, "never") for a in range(self.inst.n_agents)]


def classify(submitted: bool, correct: bool, reached: bool, held: bool) -> str:
    """The outcome class from constructed facts (design.md's table)."""
    if not submitted:
        return "no_answer"
    if correct:
        return "correct" if held else "lucky"
    if not reached:
        return "uninformed"
    return "integration_error" if held else "relay_loss"
