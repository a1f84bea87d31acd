"""Scoring: a pure step over an episode record. Answer correct and information held, per agent.

reach(i)    share of depends_on(i) whose shard can have reached i, by replaying the event
            log as time-respecting chains (messages delivered, files written then read).
evidence(i) share of depends_on(i) whose information demonstrably arrived in content i
            observed: raw items, or a task's sufficient statistic of a set of upstream shards.
held(i)     reach == 1 and evidence == 1.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache

from silo.evidence import (
    AnyOf,
    Bits,
    Fingerprint,
    Parsed,
    attribution,
    guard_ok,
    named_sets,
    number_spans,
    parse,
    sentence_spans,
    sentences,
    table_spans,
)
from silo.records import AgentScore, Episode, EpisodeScore, Event, Instance, deliveries
from silo.tasks import get_task
from silo.tasks.base import TaskSpec, _canon

SCORER_VERSION = 2
"""Version of the scoring rules; recorded in every score row, bumped whenever a rule changes.

1: provenance by reach (the author's K). 2: provenance by evidence, candidate sets from the
author's evidence history, thousands separators / labelled counts, chance-match guards,
self-contained agents set apart, consensus by the task's checker, round semantics enforced."""

HISTORY = 3  # evidence snapshots of an author offered as candidate sets (most recent first)


class ScoringError(ValueError):
    """An event log the engine cannot produce (e.g. a read of a version written in the same round)."""


@dataclass
class _Content:
    author: int
    round: int
    text: str
    upstream: frozenset[int]  # the author's reach K at send/write time
    prov: frozenset[int]  # the shards the author had evidence of (its reach where evidence is not tracked)
    sets: tuple[frozenset[int], ...]  # earlier evidence sets of the author: candidate statistics
    credited: frozenset[int] | None = None  # cache for receiver-independent (global) tasks


@dataclass
class Replay:
    """Reach and evidence sets of every agent, built by replaying the event log."""

    task: TaskSpec
    inst: Instance
    reach: list[set[int]] = field(default_factory=list)
    evid: list[set[int]] = field(default_factory=list)
    at_submit: dict[int, tuple[frozenset[int], frozenset[int]]] = field(default_factory=dict)

    def __post_init__(self):
        n = self.inst.n_agents
        self.reach = [{a} for a in range(n)]
        self.evid = [{a} for a in range(n)]
        self.dep = [self.task.depends_on(self.inst, a) for a in range(n)]
        self.hist: list[list[frozenset[int]]] = [[] for _ in range(n)]
        self._msgs: dict[int, _Content] = {}
        self._files: dict[int, _Content] = {}
        self._fp: dict[tuple, Fingerprint | None] = {}
        self._n_events = 0
        # dep - evid per agent: an agent with nothing missing needs no evidence search
        self._missing = [set(self.dep[a]) - self.evid[a] for a in range(n)]
        self._on = {"send": self._on_send, "write": self._on_write, "deliver": self._on_deliver,
                    "read": self._on_read, "list": self._on_list, "submit": self._on_submit}

    def run(self, events: list[Event]) -> Replay:
        on = self._on
        for e in events:
            handler = on.get(e.kind)
            if handler:
                handler(e)
            self._n_events += 1
        return self

    def _content(self, e: Event) -> _Content:
        a = e.agent
        prov = frozenset(self.evid[a] | (self.reach[a] - self.dep[a]))
        return _Content(a, e.round, e.content or "", frozenset(self.reach[a]), prov, tuple(self.hist[a][-HISTORY:]))

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
        for msg_id, sender in deliveries(e):  # one receive lists every message it delivered, in order
            self._observe(e.agent, self._source(self._msgs, msg_id, e, "message", sender))

    def _on_read(self, e: Event) -> None:
        self._observe(e.agent, self._source(self._files, e.version, e, "file version"))

    def _on_list(self, e: Event) -> None:
        # a listing reveals names, which can carry data: reach (a necessary condition) counts it;
        # evidence does not, since short answers collide with ids and counters in path names
        for v in e.versions or []:
            self.reach[e.agent] |= self._source(self._files, v, e, "file version").upstream

    def _on_submit(self, e: Event) -> None:
        self.at_submit.setdefault(e.agent, (frozenset(self.reach[e.agent]), frozenset(self.evid[e.agent])))

    def _observe(self, i: int, c: _Content) -> None:
        self.reach[i] |= c.upstream
        missing = self._missing[i]
        if not missing:
            return
        todo = c.upstream & missing
        if not todo:
            return
        if self.inst.answer_kind == "global":
            # global answers: what a content proves does not depend on who reads it; a broadcast
            # read by N-1 agents is examined once
            if c.credited is None:
                c.credited = frozenset(self._credit(0, c, c.upstream & self.dep[0]))
            got = c.credited & todo
        else:
            got = self._credit(i, c, todo)
        if got:
            self.evid[i] |= got
            missing -= got
            snap = frozenset(self.evid[i])
            if snap not in self.hist[i]:
                self.hist[i].append(snap)

    def _candidates(self, c: _Content, i: int) -> list[frozenset[int]]:
        """Sets whose statistic c may carry: the task's sets from the author's evidence, then its history."""
        sets = list(self.task.candidate_sets(self.inst, c.prov, i))
        sets += [s for s in reversed(c.sets) if s not in sets]
        # the agents the content names together ("combined summary of agents 3, 5"), with or without its author
        for named in named_sets(c.text):
            sets += [s for s in (named & c.prov, (named | {c.author}) & c.prov) if len(s) > 1 and s not in sets]
        sets += [s for s in self.task.stat_sets(self.inst, parse(c.text), c.prov, i) if s not in sets]
        return sets

    def _credit(self, i: int, c: _Content, todo: frozenset[int]) -> set[int]:
        p = parse(c.text)
        got: set[int] = set()
        for s in self._candidates(c, i):
            if not (s & todo) or not s <= c.prov:
                continue  # nothing new, or a set the author had no evidence of: coincidence, not information
            fp = self._fingerprint(self._stat_kind(s, c), s, i)
            # weak alternatives (a boolean, a small count) count only as the whole answer
            target = next(iter(s)) if len(s) == 1 else -1
            if fp is not None and _hit(fp, p, lambda t=target: self._view(c.author, p, t), whole=s >= self.dep[i]):
                got |= s & todo
        for j in todo - got:
            # raw items of j count wherever they appear (reach allows); a statistic of {j} only from an
            # author that had evidence of j
            kinds = ("raw", "stat") if j in c.prov else ("raw",)
            for kind in kinds:
                one = frozenset({j})
                fp = (self._fingerprint("raw", j, i) if kind == "raw"
                      else self._fingerprint(self._stat_kind(one, c), one, i))
                view = None if kind == "raw" else (lambda t=j: self._view(c.author, p, t))
                if fp is None or not _hit(fp, p, view, whole=False):
                    continue
                # (a shard identical to the author's own cannot be told from it: its data arrived either way)
                if (j != c.author and fp.strict(self._own(c.author)) and self._own_pasted(c.author, p)
                        and self.inst.shards[j].data != self.inst.shards[c.author].data
                        and not self._outside_own(fp, p, c.author)):
                    continue  # the author's own data already shows it: a coincidence, not a relay
                got.add(j)
                break
        return got

    def _view(self, a: int, p: Parsed, target: int) -> Parsed | None:
        """What a scalar statistic (one number) may match in content p by author a: p without its pasted
        data (runs of 3+ numbers all of one shard's data: a list that happens to hold the global max is a
        coincidence of the data, not a statement of it) and without sentences attributing their numbers to
        one shard other than `target` ("agent 6's max: 9995" states shard 6's statistic, even when it is
        also the maximum of a larger set; target -1: a set of several shards). None: nothing to remove."""
        key = ("view", a, p.text, target)
        if key not in self._fp:
            spans = number_spans(p.text)
            drop = self._pasted(p.text, spans)
            cut = [(lo, hi) for lo, hi in sentence_spans(p.text)
                   if (k := attribution(p.text[lo:hi], a)) is not None and k != target
                   and self._states_own(k, p.text[lo:hi], a)]
            rows = table_spans(p.text)  # numbers in table rows (an index column) are data, not statements
            drop |= {n for n, (start, _, _) in enumerate(spans) if any(lo <= start < hi for lo, hi in (*cut, *rows))}
            if not drop:
                self._fp[key] = None
            else:
                keep = tuple(v for n, (_, _, v) in enumerate(spans) if n not in drop)
                text = "\n".join(p.text[lo:hi] for lo, hi in sentence_spans(p.text) if (lo, hi) not in cut)
                q = parse(text)
                extra = q.counts - Counter(q.numbers)  # thousands-grouped and 0x readings of what is kept
                self._fp[key] = replace(p, numbers=keep, counts=Counter(keep) + extra, columns=(), text=text)
        return self._fp[key]  # type: ignore[return-value]

    def _states_own(self, k: int, sentence: str, a: int) -> bool:
        """Whether a sentence attributed to shard k shows k's own statistic (then it states k's, even where
        that equals a larger set's: a max, a count); a value that is not k's own is left to the others."""
        if not 0 <= k < self.inst.n_agents:
            return False
        fp = self.task.stat_fingerprint(self.inst, frozenset({k}), a)
        claim = self.task.claim_fingerprint(self.inst, frozenset({k}), a)
        q = parse(sentence)
        return any(f is not None and f.matches(q) for f in (fp, claim))

    def _pasted(self, text: str, spans) -> set[int]:
        """Indices of the numbers of pasted data: runs of 3+ numbers all in one shard's data, with no words
        between them (an index column or one stray number in between is allowed)."""
        where = self._holders()
        drop: set[int] = set()
        run: list[int] = []
        common: frozenset | None = None
        gap = 0
        for n, (start, _, x) in enumerate(spans):
            if run and _WORDS_BETWEEN.search(text, spans[run[-1]][1], start):
                drop.update(run if len(run) >= 3 else ())
                run, common, gap = [], None, 0
            holders = where.get(x, frozenset())
            inter = holders if common is None else common & holders
            if inter:
                run.append(n)
                common, gap = inter, 0
            elif run and gap == 0:
                gap = 1  # one stray number (an index) inside the run
            else:
                drop.update(run if len(run) >= 3 else ())
                run, common, gap = ([n], holders, 0) if holders else ([], None, 0)
        drop.update(run if len(run) >= 3 else ())
        return drop

    def _holders(self) -> dict:
        """number -> the shards whose rendered data contain it."""
        if "holders" not in self._fp:
            where: dict = {}
            for sh in self.inst.shards:
                for x in parse(sh.text).counts:
                    where.setdefault(x, set()).add(sh.agent)
            self._fp["holders"] = {x: frozenset(v) for x, v in where.items()}  # type: ignore[assignment]
        return self._fp["holders"]  # type: ignore[return-value]

    def _own(self, a: int) -> Parsed:
        """The author's own shard, parsed: a fingerprint of another shard that its own data already shows
        (II-14's 5 edge cells inside the author's own row) is a coincidence, not a relay."""
        return parse(self.inst.shards[a].text)

    def _own_pasted(self, a: int, p: Parsed) -> bool:
        """Whether content p shows its author's own raw shard: only then can a match be a coincidence of the
        author's own data (a relay of shard j by an author whose own shard is identical to j's is a relay)."""
        fp = self._fingerprint("raw", a, a)
        return fp is not None and fp.strict(p)

    def _outside_own(self, fp: Fingerprint, p: Parsed, a: int) -> bool:
        """Whether a 0/1 pattern matches in a run of the content that is not the author's own row: a relay
        (a star centre forwarding II-14 edge cells that also occur in its own row) is not a coincidence."""
        if not _has_bits(fp):
            return False
        own = self._own(a).bitruns
        foreign = tuple(r for r in p.bitruns if not any(r in o for o in own))
        return foreign != () and fp.strict(replace(p, bitruns=foreign))

    def _stat_kind(self, s: frozenset[int], c: _Content) -> str:
        """Claims count for the author's own shard, a set of several shards, or one foreign shard whose
        claim differs from the author's own (a relay's own count equals another shard's count far too
        often to tell them apart: docs/chance_match.md)."""
        if len(s) > 1 or s == {c.author}:
            return "claim"
        return "fclaim" if self._claim_differs(s, c.author) else "stat"

    def _claim_differs(self, s: frozenset[int], author: int) -> bool:
        key = ("differs", s, author)
        if key not in self._fp:
            own = self.task.claim_fingerprint(self.inst, frozenset({author}), author)
            other = self.task.claim_fingerprint(self.inst, s, author)
            self._fp[key] = other is not None and other != own  # type: ignore[assignment]
        return bool(self._fp[key])

    def _fingerprint(self, kind: str, key, i: int) -> Fingerprint | None:
        cache_key = (kind, key, i if self.inst.answer_kind == "segmented" or kind == "raw" else -1)
        if cache_key not in self._fp:
            if kind == "raw":
                fp = self.task.raw_fingerprint(self.inst, key, i)
            else:
                fp = self.task.stat_fingerprint(self.inst, key, i)
                # an author's claim about its own shard stands on authorship; claims about several shards
                # only on tasks whose measured chance-match rate is under the threshold
                ok = (kind == "fclaim" and guard_ok(self.task.id, "foreign")) or (
                    kind == "claim" and (len(key) == 1 or guard_ok(self.task.id, "several")))
                claim = self.task.claim_fingerprint(self.inst, key, i) if ok else None
                if claim is not None and kind == "fclaim":
                    claim = claim.labelled_only()
                if claim is not None:
                    fp = claim if fp is None else AnyOf((fp, claim))
            self._fp[cache_key] = fp
        return self._fp[cache_key]


_WORDS_BETWEEN = re.compile(r"[A-Za-z]{2,}")
_ANSWERISH = re.compile(r"\b(?:answers?|result|winner|wins?|won|most|total|overall|global|final(?:ly)?|conclusion|so|"
                        r"therefore|thus|hence|anywhere|nobody|nowhere|none of (?:us|them)|every(?:one|body)|"
                        r"all of us|any(?:one)?|there (?:is|are))\b", re.IGNORECASE)


def _has_bits(fp: Fingerprint) -> bool:
    return isinstance(fp, Bits) or any(_has_bits(f) for f in getattr(fp, "parts", ()))


@lru_cache(maxsize=100000)
def _rest(fp: Fingerprint) -> Fingerprint | None:
    return fp.without_scalars()


def _hit(fp: Fingerprint, p: Parsed, view, whole: bool) -> bool:
    """Whether fp matches content p (all alternatives if `whole`, else strong ones only). `view` (None, or a
    callable giving Replay._view of p, computed only when needed): single-number alternatives must match there.
    """
    strong = fp.strict(p)
    if not whole or strong:
        if not strong:
            return False
        rest = _rest(fp)
        if rest is fp or view is None:
            return True  # no single-number alternative: nothing to check outside pastes
        free = view()
        return free is None or (rest is not None and rest.strict(p)) or fp.strict(free)
    if not fp.matches(p):
        return False
    # only a weak alternative (a name, a boolean, a small number) matched: the whole answer, which must be
    # stated as one ("the answer is false", "Carol wins"), not merely occur (a name inside pasted ballots)
    q = (view() if view is not None else None) or p
    return any(_ANSWERISH.search(sent) and fp.matches(parse(sent)) for sent in sentences(q.text))


def classify(submitted: bool, correct: bool, reach: float, evidence: float) -> str:
    """Exactly one outcome class per agent."""
    held = reach >= 1.0 and evidence >= 1.0
    if not submitted:
        return "no_answer"
    if correct:
        return "correct" if held else "lucky"
    if reach < 1.0:
        return "uninformed"
    return "integration_error" if held else "relay_loss"


def score_agents(ep: Episode, task: TaskSpec) -> list[AgentScore]:
    """Per-agent scores of an episode."""
    inst = ep.instance
    rep = Replay(task, inst).run(ep.events)
    subs = {s.agent: s for s in ep.submissions}
    models = ep.config.models or []
    out = []
    check = _memo_check(task)
    for a in range(inst.n_agents):
        dep = rep.dep[a]
        reach_set, evid_set = rep.at_submit.get(a, (frozenset(rep.reach[a]), frozenset(rep.evid[a])))
        reach = len(reach_set & dep) / len(dep)
        evid = len(evid_set & dep) / len(dep)
        sub = subs.get(a)
        correct, partial = check(sub.answer, inst.truth[a]) if sub else (False, 0.0)
        out.append(AgentScore(
            episode_id=ep.id, agent=a, submitted=sub is not None, submit_round=sub.round if sub else None,
            correct=correct, partial=round(partial, 6), reach=round(reach, 6), evidence=round(evid, 6),
            held=reach >= 1 and evid >= 1, outcome=classify(sub is not None, correct, reach, evid),
            model=models[a % len(models)] if models else None, self_contained=dep == frozenset({a}),
            scorer_version=SCORER_VERSION,
        ))
    return out


def _memo_check(task: TaskSpec):
    """task.check, computed once per distinct (answer, truth): a global answer is the same list for every
    agent (a checker is a pure function of its two values; repr tells apart what JSON equality would not)."""
    seen: dict[tuple[str, str], tuple[bool, float]] = {}

    def check(answer, truth):
        try:
            key = (repr(answer), repr(truth))
        except RecursionError:  # a hostile answer nested too deeply to key: check it as it is
            return task.check(answer, truth)
        if key not in seen:
            seen[key] = task.check(answer, truth)
        return seen[key]
    return check


def score_episode(ep: Episode) -> EpisodeScore:
    """Episode scores; an errored episode keeps its counts but has no accuracy (None)."""
    task = get_task(f"{ep.instance.task}@{ep.instance.task_version}")  # the version the instance was made by
    agents = score_agents(ep, task)
    n = ep.instance.n_agents
    ok = ep.status != "error"
    if not ok:  # an errored episode is not a wrong answer: its agents get no outcome class
        agents = [a.model_copy(update={"outcome": None}) for a in agents]
    global_task = ep.instance.answer_kind == "global"
    # consensus is only defined for one global answer
    answers = distinct_answers(task, [s.answer for s in ep.submissions]) if global_task else 0
    solved = all(a.correct for a in agents)
    sends = [e for e in ep.events if e.kind in ("send", "write")]
    last_submit = max((s.round for s in ep.submissions), default=None)
    return EpisodeScore(
        episode_id=ep.id, task=ep.instance.task, level=ep.instance.level, n_agents=n,
        protocol=ep.config.protocol, team=ep.config.team, prompt_variant=ep.config.prompt_variant,
        replicate=ep.config.replicate, instance_id=ep.instance.id, status=ep.status, error=ep.error,
        success=_mean([a.correct for a in agents]) if ok else None,
        partial=_mean([a.partial for a in agents]) if ok else None,
        held=_mean([a.held for a in agents]) if ok else None,
        solved=solved if ok else None,
        consensus_failure=(global_task and answers > 1) if ok else None,
        unanimous=(solved and (answers == 1 or not global_task)) if ok else None,
        messages=len(sends), bytes=sum(e.chars for e in sends), density=density(ep),
        rounds=ep.rounds, rounds_to_completion=last_submit if ep.status == "complete" else None,
        tool_errors=sum(e.kind == "error" for e in ep.events), usage=ep.usage, agents=agents,
        set_apart=sum(a.self_contained for a in agents), scorer_version=SCORER_VERSION,
        task_version=ep.instance.task_version,
    )


def density(ep: Episode) -> float:
    """D = messages / (N(N-1)); under a shared store, m_i counts reads by others of i's files."""
    n = ep.instance.n_agents
    if n < 2:
        return 0.0
    if any(e.kind == "read" for e in ep.events):
        m = sum(1 for e in ep.events if e.kind == "read" and e.sender is not None and e.sender != e.agent)
    else:
        m = sum(1 for e in ep.events if e.kind == "send")
    return round(m / (n * (n - 1)), 6)


def _mean(xs) -> float:
    xs = list(xs)
    return round(sum(float(x) for x in xs) / len(xs), 6) if xs else 0.0


def distinct_answers(task: TaskSpec, answers: list) -> int:
    """Number of distinct answers under the task's own equivalence: a and b are one answer when the
    checker accepts either as the other (true and "yes" on I-04, 26 and 26.004 within a tolerance);
    canonical JSON ("984", 984.0 and 984) first. Classes are formed greedily in submission order."""
    reps: list = []
    keys: set[str] = set()
    for raw in dict.fromkeys(json.dumps(a, sort_keys=True) for a in answers):  # identical answers once
        a = json.loads(raw)
        key = json.dumps(_canon(a), sort_keys=True)
        if key in keys:
            continue
        keys.add(key)
        if not any(_same(task, a, r) for r in reps):
            reps.append(a)
    return len(reps)


def _same(task: TaskSpec, a, b) -> bool:
    for x, y in ((a, b), (b, a), (a, _canon(b)), (b, _canon(a))):
        try:  # y stands for the truth: the checker's notion of "x is the same answer as y"
            if task.check(x, y)[0]:
                return True
        except Exception:  # noqa: BLE001 - a checker given a non-truth-shaped value may raise: not the same
            continue
    return False
