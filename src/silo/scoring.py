"""Scoring: a pure step over an episode record. Answer correct and information held, per agent.

reach(i)    share of depends_on(i) whose shard can have reached i, by replaying the event
            log as time-respecting chains (messages delivered, files written then read).
evidence(i) share of depends_on(i) whose information demonstrably arrived in content i
            observed: raw items, or a task's sufficient statistic of a set of upstream shards.
held(i)     reach == 1 and evidence == 1.
"""

from __future__ import annotations

import json
import marshal

from pydantic import TypeAdapter, ValidationError

from silo.answer_keys import hashable as _hashable
from silo.answer_keys import lookup_for
from silo.records import AgentScore, Episode, EpisodeScore, role_of
from silo.replay import HISTORY, Replay, ScoringError  # noqa: F401 - importable from here as before
from silo.tasks import get_task
from silo.tasks.base import TaskSpec, _canon

SCORED_KINDS = frozenset({"send", "write", "deliver", "read", "list", "submit", "error"})
"""The event kinds scoring reads (waits, action echoes, model calls and notes are not needed)."""

SCORER_VERSION = 5
"""Version of the scoring rules; recorded in every score row, bumped whenever a rule changes.

1: provenance by reach (the author's K). 2: provenance by evidence, candidate sets from the
author's evidence history, thousands separators / labelled counts, chance-match guards,
self-contained agents set apart, consensus by the task's checker, round semantics enforced.
3: III-29's evidence hooks (a raw shard as its [id, weight] pairs in any order, unnamed combined
summaries found from their weights, answer fields labelled in any order) and II-11's (a raw shard
in order, agent k's answer as the total of shards 0..k).
4: issue 12 (session 5): a table row that runs on into a sentence ends at its number, and the task hooks
listed under "session 5" in docs/design.md's evidence section. New task versions bring
their own hooks (II-14 v3) without a bump: every score row records its task version."""


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


_AGENTS = TypeAdapter(list[AgentScore])  # an episode's agents validated in one call (half the cost of one each)


def score_agents(ep: Episode, task: TaskSpec) -> list[AgentScore]:
    """Per-agent scores of an episode. The agents' fields are validated together, after the loop; an agent that
    fails validation raises its own error, and before any error of a later agent's checker, as when each agent
    was validated in turn."""
    inst = ep.instance
    rep = Replay(task, inst).run(ep.events)
    subs = {s.agent: s for s in ep.submissions}
    models = ep.config.models or []
    team = ep.config.team
    roles = {m: role_of(team, m) for m in models} if models else {}  # EpisodeScore fills a missing role alike
    plain = role_of(team, None)
    rows = []
    check = _memo_check(task)
    try:
        for a in range(inst.n_agents):
            dep = rep.dep[a]
            got = rep.at_submit.get(a)  # (not .get with a default: that would copy both sets of every agent)
            reach_set, evid_set = got if got is not None else (rep.reach[a], rep.evid[a])
            reach, evid = _share(reach_set, dep), _share(evid_set, dep)
            sub = subs.get(a)
            correct, partial = check(sub.answer, inst.truth[a]) if sub else (False, 0.0)
            rows.append({
                "episode_id": ep.id, "agent": a, "submitted": sub is not None,
                "submit_round": sub.round if sub else None, "correct": correct, "partial": round(partial, 6),
                "reach": round(reach, 6), "evidence": round(evid, 6), "held": reach >= 1 and evid >= 1,
                "outcome": classify(sub is not None, correct, reach, evid),
                "model": (model := models[a % len(models)] if models else None),
                "role": roles[model] if models else plain, "self_contained": len(dep) == 1 and a in dep,
                "scorer_version": SCORER_VERSION})
    except Exception:
        _each(rows)  # an earlier agent's invalid fields raise first
        raise
    try:
        return _AGENTS.validate_python(rows)
    except ValidationError:
        return _each(rows)  # the first invalid agent's own error


def _each(rows: list[dict]) -> list[AgentScore]:
    return [AgentScore(**r) for r in rows]


def _share(have, dep: frozenset[int]) -> float:
    """The share of dep within `have` (all of it, as most agents have at N = 100: no set made to count it)."""
    return 1.0 if dep and (have is dep or dep <= have) else len(have & dep) / len(dep)  # (empty dep: raises, as ever)


KEY_VERSION = 2  # marshal format 2: type-tagged and without back-references (3+ depend on object identity)


def check_key(answer, truth) -> bytes:
    """A memo key of (answer, truth) that is equal only for values of identical types and contents: 1, 1.0,
    True and "1" differ, as do -0.0 and 0.0 and dict key orders (as repr tells them apart, at a tenth of
    its cost: binary, no number formatting). Raises ValueError for values nested too deeply to key."""
    return marshal.dumps((answer, truth), KEY_VERSION)


def _memo_check(task: TaskSpec):
    """task.check, computed once per distinct (answer, truth): a global answer is the same list for every
    agent (a checker is a pure function of its two values, and check_key is as discriminating as repr).
    Objects seen before are found by identity first (episode_io.read_scored gives equal answers one object;
    the values belong to the episode being scored, alive while the memo is)."""
    seen: dict[bytes, tuple[bool, float]] = {}
    same: dict[tuple[int, int], tuple[bool, float]] = {}

    def check(answer, truth):
        ids = (id(answer), id(truth))
        if ids in same:
            return same[ids]
        try:
            key = check_key(answer, truth)
        except (ValueError, RecursionError):  # a hostile answer nested too deeply to key: check it as it is
            return task.check(answer, truth)
        if key not in seen:
            seen[key] = task.check(answer, truth)
        same[ids] = seen[key]
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
    messages, chars, errors, sent, reads, read_any = _tally(ep.events)
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
        messages=messages, bytes=chars, density=_density(n, reads if read_any else sent),
        rounds=ep.rounds, rounds_to_completion=last_submit if ep.status == "complete" else None,
        tool_errors=errors, usage=ep.usage, agents=agents,
        set_apart=sum(a.self_contained for a in agents), scorer_version=SCORER_VERSION,
        task_version=ep.instance.task_version,
    )


def density(ep: Episode) -> float:
    """D = messages / (N(N-1)); under a shared store, m_i counts reads by others of i's files."""
    _, _, _, sent, reads, read_any = _tally(ep.events)
    return _density(ep.instance.n_agents, reads if read_any else sent)


def _density(n: int, m: int) -> float:
    return round(m / (n * (n - 1)), 6) if n >= 2 else 0.0


def _tally(events) -> tuple[int, int, int, int, int, bool]:
    """(sends and writes, their chars, errors, sends, reads by others, any read) of an event log, in one pass."""
    messages = chars = errors = sent = reads = 0
    read_any = False
    for e in events:
        kind = e.kind
        if kind == "send" or kind == "write":
            messages += 1
            chars += e.chars
            sent += kind == "send"
        elif kind == "read":
            read_any = True
            reads += e.sender is not None and e.sender != e.agent
        elif kind == "error":
            errors += 1
    return messages, chars, errors, sent, reads, read_any


def _mean(xs) -> float:
    xs = list(xs)
    return round(sum(float(x) for x in xs) / len(xs), 6) if xs else 0.0


def distinct_answers(task: TaskSpec, answers: list) -> int:
    """Number of distinct answers under the task's own equivalence: a and b are one answer when the
    checker accepts either as the other (true and "yes" on I-04, 26 and 26.004 within a tolerance);
    canonical JSON ("984", 984.0 and 984) first. Classes are formed greedily in submission order."""
    reps: list = []
    keys: set[str] = set()
    # the same object once (episode_io.read_scored gives equal answers one object: at N = 100 a 100 x 100
    # matrix is not dumped 100 times), then identical answers once
    once = {id(a): a for a in answers}
    if len(once) == 1:  # one answer (as every agent of a team that agrees gives): one class, no classes to compare
        json.dumps(answers[0], sort_keys=True)  # (raising for an answer it cannot dump, as the loop below would)
        return 1
    if type(task).check is TaskSpec.check and not task.tolerance:
        exact = _exact_classes()
        same = lambda a, c: exact(c)  # noqa: E731
    else:  # a look-up of the answer and truth keys where they describe the checker (answer_keys), else pairwise
        keyed = lookup_for(task, lambda a, r: _same(task, a, r))
        same = keyed.same if keyed is not None else None
    for raw in dict.fromkeys(json.dumps(a, sort_keys=True) for a in once.values()):
        a = json.loads(raw)
        c = _canon(a)
        key = json.dumps(c, sort_keys=True)
        if key in keys:
            continue
        keys.add(key)
        if not (same(a, c) if same is not None else any(_same(task, a, r) for r in reps)):
            reps.append(a)
    return len(reps)


def _exact_classes():
    """_same against every representative so far, in one look-up, for the default exact checker (which says
    x is y when _canon(x) == _canon(y)): _same(a, r) is then C(a) == C(r) or C(a) == C(C(r)) or C(C(a)) == C(r),
    so the representatives' C and C(C) forms, hashable, answer it (premature at N = 1,000 gives 1,000 classes:
    4 s of pairwise checks). Call it with each new answer's C; it returns whether a class holds it (else the
    answer starts one)."""
    once: set = set()  # F(C(r)) of every representative r
    twice: set = set()  # F(C(C(r)))

    def same(c) -> bool:
        fc, fcc = _hashable(c), _hashable(_canon(c))
        if fc in once or fc in twice or fcc in once:
            return True
        once.add(fc)
        twice.add(fcc)
        return False

    return same


def _same(task: TaskSpec, a, b) -> bool:
    for x, y in ((a, b), (b, a), (a, _canon(b)), (b, _canon(a))):
        try:  # y stands for the truth: the checker's notion of "x is the same answer as y"
            if task.check(x, y)[0]:
                return True
        except Exception:  # noqa: BLE001 - a checker given a non-truth-shaped value may raise: not the same
            continue
    return False
