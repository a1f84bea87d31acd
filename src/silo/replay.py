"""Replay: reach and evidence sets of every agent, built by replaying an episode's event log.

reach(i) grows along time-respecting chains (messages delivered, files written then read); evidence(i)
grows when content i observed demonstrably carries a shard's information (silo.credit decides what
matches). The scorer (silo.scoring) and the sufficiency tool (protocols/sufficiency.py) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from silo.attribution import named_sets
from silo.bitsets import bits_of, members
from silo.credit import ContentViews
from silo.evidence_text import parse
from silo.records import Event, Instance, deliveries
from silo.replay_cache import shared_cache
from silo.replay_gains import HISTORY, PENDING_CAP, Gains  # noqa: F401 - importable from here as before
from silo.tasks.base import TaskSpec

MEMO_CAP = 500_000  # entries of an instance's shared cache past which search results are no longer kept


class ScoringError(ValueError):
    """An event log the engine cannot produce (e.g. a read of a version written in the same round)."""


@dataclass(slots=True)  # (slots: ~10^5 of these at N = 1,000, each read per delivery)
class _Content:
    """A message or file version as the replay saw it made. Its author's sets are kept as bits (silo.bitsets:
    ~N / 8 bytes, not a hash table of N slots); `upstream`, `prov` and `sets` give them as sets."""

    author: int
    round: int
    text: str
    up: int  # the author's reach K at send/write time (bits)
    pv: int  # the shards the author had evidence of (its reach where evidence is not tracked), bits
    hist: tuple[int, ...]  # earlier evidence sets of the author, bits: candidate statistics
    credited: frozenset[int] | None = None  # cache for receiver-independent (global) tasks
    extra: tuple[frozenset[int], ...] | None = None  # cache of the sets the content names (_named)
    cands: dict | None = None  # cache of all its candidate sets, where none depends on the receiver (_candidates)
    shown: dict | None = None  # cache of _credit per todo, for the receivers its task's credit_receiver gives -1

    @property
    def upstream(self) -> frozenset[int]:
        return members(self.up)

    @property
    def prov(self) -> frozenset[int]:
        return members(self.pv)

    @property
    def sets(self) -> tuple[frozenset[int], ...]:
        return tuple(map(members, self.hist))


@dataclass
class Replay(Gains, ContentViews):
    """Reach and evidence sets of every agent, built by replaying the event log."""

    task: TaskSpec
    inst: Instance
    at_submit: dict[int, tuple[frozenset[int], frozenset[int]]] = field(default_factory=dict)

    def __post_init__(self):
        n = self.inst.n_agents
        # each agent's reach and evidence as bits (silo.bitsets): both only grow, by ORs of other agents' bits
        self._rb: list[int] = [1 << a for a in range(n)]
        self._eb: list[int] = list(self._rb)
        self._interned: dict[frozenset[int], frozenset[int]] = {}
        self._full: frozenset[int] | None = None  # {0..n-1}, interned, once an agent submits
        self.dep = [self._fz(self.task.depends_on(self.inst, a)) for a in range(n)]
        dep_bits: dict[int, int] = {}  # (per distinct set: at N = 1,000 most agents' is one set of N)
        self._db = [dep_bits.get(id(d)) or dep_bits.setdefault(id(d), bits_of(d)) for d in self.dep]
        # evidence history: each agent's evidence after each of its last HISTORY gains, oldest first (bits)
        self._hist: list[tuple[int, ...]] = [()] * n
        # gains not yet in _eb / _hist (_flush): a shard id, or a set of several gained at once, per gain in order
        self._pend: list[list] = [[] for _ in range(n)]
        self._grouped: set[int] = set()  # agents with a set among their pending gains (the rest: ids only)
        self._msgs: dict[int, _Content] = {}
        self._files: dict[int, _Content] = {}
        self._fp: dict = shared_cache(self.task, self.inst)
        self._n_events = 0
        self._snaps: dict[int, tuple[int, int, int]] = {}
        # dep - evid per agent: an agent with nothing missing needs no evidence search
        self._missing = [set(self.dep[a]) for a in range(n)]
        for a, missing in enumerate(self._missing):
            missing.discard(a)  # (its evidence so far: itself)
        self._n, self._global = n, self.inst.answer_kind == "global"
        self._segmented, self._raw_i = not self._global, self.task.raw_per_receiver
        self._stat_sets = getattr(self.task.stat_sets, "__func__", None) is not TaskSpec.stat_sets  # (own, or none)
        self._scoped = self._segmented and getattr(  # (a task that tells which fingerprints are the same for all)
            self.task.stat_receiver, "__func__", None) is not TaskSpec.stat_receiver
        self._alike = self._segmented and getattr(  # (a task that tells which receivers a content shows the same)
            self.task.credit_receiver, "__func__", None) is not TaskSpec.credit_receiver
        self._fixed_sets = not self._stat_sets and getattr(  # (TaskSpec's candidate_sets: the content's prov alone)
            self.task.candidate_sets, "__func__", None) is TaskSpec.candidate_sets

    @property
    def reach(self) -> _Sets:
        """Each agent's reach so far, as sets (reach[a])."""
        return _Sets(self._rb)

    @property
    def evid(self) -> _Sets:
        """Each agent's evidence so far, as sets (evid[a])."""
        self._flush_all()
        return _Sets(self._eb)

    def _fz(self, s) -> frozenset[int]:
        """s as a frozenset shared with every equal one of this replay (at N = 1,000 each agent's
        depends_on, and its reach and evidence at submit, are often the same 1,000 ids: one copy, not one
        per agent). Only for sets made once per agent: the table keeps what it holds alive."""
        f = s if isinstance(s, frozenset) else frozenset(s)
        return self._interned.setdefault(f, f)

    def run(self, events: list[Event]) -> Replay:
        # the handlers as plain functions of the class (_ON), not bound methods kept on the replay: those would
        # make a reference cycle, so every replay and all it holds would wait for the cyclic garbage collector
        on = _ON
        for e in events:
            handler = on.get(e.kind)
            if handler:
                handler(self, e)
            self._n_events += 1
        return self

    def _content(self, e: Event) -> _Content:
        a = e.agent
        if self._pend[a]:
            self._flush(a)
        up, pv = self._snapshot(a)
        return _Content(a, e.round, e.content or "", up, pv, self._hist[a])

    def _snapshot(self, a: int) -> tuple[int, int]:
        """(reach, provenance) of agent a now, as bits, shared by every content it makes until either grows (a star
        centre's N - 1 sends hold one pair, not N - 1). Provenance: its evidence, and its reach outside depends_on."""
        up, eb = self._rb[a], self._eb[a]
        got = self._snaps.get(a)
        if got is None or got[0] != up or got[1] != eb:  # (ints of ~N / 30 digits: compared, not rebuilt)
            pv = eb | (up & ~self._db[a])
            got = self._snaps[a] = (up, eb, up if pv == up else pv)  # (a flood's states: one int, not two equal)
        return got[0], got[2]

    def _on_send(self, e: Event) -> None:
        self._msgs[e.msg_id] = self._content(e)

    def _on_write(self, e: Event) -> None:
        self._files[e.version] = self._content(e)

    def _source(self, store: dict[int, _Content], key, e: Event, what: str, sender: int | None = None) -> _Content:
        """The content an event consumes, checked against the engine's round semantics."""
        c = store.get(key)
        if c is None:
            raise ScoringError(f"{self._where(e)}: {what} {key} was never {'sent' if what == 'message' else 'written'}")
        if c.round >= e.round:
            raise ScoringError(f"{self._where(e)}: {what} {key} from round {c.round} consumed in round {e.round} "
                               "(content is visible from the next round only)")
        sender = e.sender if sender is None else sender
        if sender is not None and sender != c.author and e.kind != "list":
            raise ScoringError(f"{self._where(e)}: {what} {key} was written by agent {c.author}, the log says {sender}")
        return c

    def _where(self, e: Event) -> str:
        return f"event {self._n_events} (round {e.round}, agent {e.agent}, {e.kind})"

    def _on_deliver(self, e: Event) -> None:
        msgs, rnd, agent, logged = self._msgs, e.round, e.agent, e.sender
        missing = self._missing[agent]  # (only ever changed in place)
        reach = self._rb[agent]
        pend = self._pend[agent]  # (_record's, inline for a single shard: the gain is only noted, _flush)
        ids, senders = e.msg_ids, e.senders  # one receive lists every message it delivered, in order
        pairs = zip(ids, senders, strict=True) if ids is not None and senders is not None else deliveries(e)
        for msg_id, sender in pairs:  # (deliveries: one event per message, as logs written before it hold)
            c = msgs.get(msg_id)
            if sender is None:
                sender = logged
            if c is None or c.round >= rnd or (sender is not None and sender != c.author):
                c = self._source(msgs, msg_id, e, "message", sender)  # raises the error it is
            # _observe, inline: a broadcast at N = 100 delivers 10^5 messages, most to an agent with a full
            # reach or nothing missing, for which a call per message cost more than the rest of the work
            reach |= c.up
            if missing:
                known = c.credited  # (a global task's content examined before: what it gives is known)
                if known is not None:
                    if len(known) == 1:  # (most: a shard's own content; the same steps, no set made for one)
                        j, = known
                        if j in missing:
                            missing.discard(j)
                            pend.append(j)
                        continue
                    got = known & missing  # (_gain's, inline: most of a broadcast's gains)
                    if got:
                        self._record(agent, got, missing)
                elif not c.upstream.isdisjoint(missing):  # (what a content may give is within its upstream)
                    self._rb[agent] = reach  # (_gain's search reads no reach; kept in step all the same)
                    self._gain(agent, c, missing)
        self._rb[agent] = reach
        if len(pend) > PENDING_CAP:
            self._flush(agent)

    def _on_read(self, e: Event) -> None:
        self._observe(e.agent, self._source(self._files, e.version, e, "file version"))

    def _on_list(self, e: Event) -> None:
        # a listing reveals names, which can carry data: reach (a necessary condition) counts it;
        # evidence does not, since short answers collide with ids and counters in path names
        for v in e.versions or []:
            self._rb[e.agent] |= self._source(self._files, v, e, "file version").up

    def _on_submit(self, e: Event) -> None:
        a = e.agent
        if a not in self.at_submit:  # (the first submit counts)
            if self._pend[a]:
                self._flush(a)
            self.at_submit[a] = (self._frozen(self._rb[a]), self._frozen(self._eb[a]))

    def _frozen(self, bits: int) -> frozenset[int]:
        """The set of `bits`, one object for every equal one of this replay (_fz); every agent (as most sets are at
        submit) without a set made. Every reach and evidence set is within {0..n-1} (each starts as {a} and grows
        only by other agents' reach and evidence), so n members are every agent."""
        full = self._full
        if full is None:
            full = self._full = self._fz(range(self._n))
        return full if bits.bit_count() == self._n else self._fz(members(bits))

    def _observe(self, i: int, c: _Content) -> None:
        self._rb[i] |= c.up
        missing = self._missing[i]
        if missing:
            self._gain(i, c, missing)

    def _gain(self, i: int, c: _Content, missing: set[int]) -> None:
        """Agent i's evidence from content c, for the shards it still misses (`missing`, not empty)."""
        if c.credited is not None:  # (credited is within upstream: & missing is & todo)
            got = c.credited & missing
        else:
            todo = c.upstream & missing
            if not todo:
                return
            if self._global:
                # global answers: what a content proves does not depend on who reads it; a broadcast
                # read by N-1 agents is examined once
                c.credited = self._credited(c)
                got = c.credited & todo
            elif self._alike and self.task.credit_receiver(self.inst, c.prov, i) == -1:
                got = self._shown(i, c, todo)
            else:
                got = self._credit(i, c, todo)  # (per receiver: its parts are memoised, _states and _relayed)
        if got:
            self._record(i, got, missing)

    def _shown(self, i: int, c: _Content, todo: frozenset[int]) -> set[int]:
        """_credit(i, c, todo) for a receiver the task declares alike for c (credit_receiver -1): once per content and
        todo (a chain's carry broadcast to the N - 1 agents past it: one search, not N - 1). Keyed by todo in its
        order, and the set itself is given (the caller only reads it): every receiver gains as from its own search."""
        shown = c.shown
        if shown is None:
            shown = c.shown = {}
        key = tuple(todo)
        got = shown.get(key)
        if got is None:
            got = shown[key] = self._credit(i, c, todo)
        return got

    def _candidates(self, c: _Content, i: int) -> dict[frozenset[int], bool | None]:
        """Sets whose statistic c may carry, each once (in no order that matters: _credit takes their union): the
        task's sets from the author's evidence, its history, the sets the content names, the task's stat_sets;
        each to True where it is known to be within c.prov (None: not known). Where the task's hooks are TaskSpec's,
        none depends on the receiver: made once per content (a star centre's answers, each read by N - 1 receivers)."""
        if self._fixed_sets and c.cands is not None:
            return c.cands
        sets = dict.fromkeys(self.task.candidate_sets(self.inst, c.prov, i))
        sets.update(dict.fromkeys(map(members, reversed(c.hist)), True))  # (True: within c.prov, as these are)
        if c.extra is None:  # (the same for every receiver: made once per content)
            c.extra = self._named(c)
        sets.update(dict.fromkeys(c.extra, True))
        if not self._stat_sets:  # (TaskSpec's: none)
            if self._fixed_sets and not self._global:  # (a global task's content is searched once: _credited)
                c.cands = sets
            return sets
        key = ("stat_sets", c.text, c.pv, i)  # a file read again, or the same text sent twice: searched once
        found = self._fp.get(key)
        if found is None:
            found = self._fp[key] = list(self.task.stat_sets(self.inst, parse(c.text), c.prov, i))
        sets.update(dict.fromkeys(found))
        return sets

    def _named(self, c: _Content) -> tuple[frozenset[int], ...]:
        """The agents the content names together ("combined summary of agents 3, 5"), with or without its author,
        within its provenance: candidate sets that do not depend on the receiver (besides the author's history)."""
        sets: list[frozenset[int]] = []
        prov = c.prov
        for named in named_sets(c.text):
            sets += [s for s in (named & prov, (named | {c.author}) & prov) if len(s) > 1]
        return tuple(sets)

    def _credited(self, c: _Content) -> frozenset[int]:
        """What a global task's content proves (receiver 0 stands for all), once per all it depends on: the
        content's text and author, the author's evidence (prov), history (sets) and reach (upstream: the
        shards looked for are upstream & depends_on); not the round or the event. A star centre's N - 1
        equal sends, and the same message under another protocol of the instance, are searched once (the
        key holds the content's own bits: no set). Not for segmented tasks: keys per receiver would
        hold O(N) sets per content, and their search is no faster for it."""
        key = ("credit", c.text, c.author, c.pv, c.hist, c.up)  # (bits: equal sets, equal keys)
        got = self._fp.get(key)
        if got is None:
            got = frozenset(self._credit(0, c, c.upstream & self.dep[0]))
            self._keep(key, got)
        return got

    def _keep(self, key: tuple, value) -> None:
        """Memoise a search result in the shared cache, up to MEMO_CAP entries (past it: computed, not kept,
        so a large run's cache cannot grow by O(N) entries per content)."""
        if len(self._fp) < MEMO_CAP:
            self._fp[key] = value

    def _credit(self, i: int, c: _Content, todo: frozenset[int]) -> set[int]:
        """The shards of `todo` content c shows receiver i: those of a candidate set whose statistic it states,
        and those whose raw items, or (from an author that had evidence of it) statistic, it relays. Each is a
        pure test, so their order is free: where raw relays are known for every receiver (a segmented task's,
        memoised per content) they go first, and only the sets that could add a shard left are searched (a
        message read by N - 1 agents that each miss one shard: one look-up per receiver, not a search)."""
        p = parse(c.text)
        got: set[int] = set()
        raw_first = self._segmented and not self._raw_i
        if raw_first:
            known, a, text = self._fp.get, c.author, c.text
            for j in todo:  # (_relayed's cache look-up, inline: one per receiver and shard it misses)
                hit = known(("relayed", ("raw", j, -1), a, text))
                if hit is None:
                    hit = self._relayed("raw", j, i, c, p)
                if hit:
                    got.add(j)
            left = todo - got
            if not left:
                if len(c.upstream) == 1:  # (a shard's own content, relayed: every receiver missing it gains it alike,
                    c.credited = c.upstream  # as a global task's content: _on_deliver's inline path, no search)
                return got
        else:
            left = todo
        prov = c.prov
        for s, within in self._candidates(c, i).items():
            if s.isdisjoint(left) or not (within or s is prov or s <= prov):
                continue  # nothing new, or a set the author had no evidence of: coincidence, not information
            if self._states(s, i, c, p):
                got |= s & todo
        left = todo - got
        if self._global and left:  # (one search per content: _credited; segmented tasks' are memoised per shard)
            left = self._may_relay(i, c, p, left)
        for j in left:
            # raw items of j count wherever they appear (reach allows; where raw went first, j's are not
            # there); a statistic of {j} only from an author that had evidence of j
            if (not raw_first and self._relayed("raw", j, i, c, p)) or (
                    j in prov and self._relayed("stat", j, i, c, p)):
                got.add(j)
        return got


class _Sets:
    """A list of bits read as sets (Replay.reach, Replay.evid): sets[a] is the set of agent a."""

    __slots__ = ("_bits",)

    def __init__(self, bits: list[int]):
        self._bits = bits

    def __getitem__(self, a: int) -> frozenset[int]:
        return members(self._bits[a])

    def __len__(self) -> int:
        return len(self._bits)

    def __iter__(self):
        return map(members, self._bits)


_ON = {"send": Replay._on_send, "write": Replay._on_write, "deliver": Replay._on_deliver,
       "read": Replay._on_read, "list": Replay._on_list, "submit": Replay._on_submit}
