"""The hand-written transcript corpus (tests/transcripts/): every agent must get the class written for it.

The expected classes were decided by reading each transcript (who truly received what), never
from scorer output. Two tests per transcript: `consistent` checks the transcript against facts
that need no scorer (the answer is right or wrong as its class says, reach replayed on its own);
`classified` runs the scorer and compares every agent's outcome.
"""

from __future__ import annotations

from functools import cache

import pytest

from silo.records import Episode
from silo.scoring import score_episode
from silo.tasks import get_task
from transcripts.builder import all_transcripts, build, load, reach_sets

PATHS = {p.stem: p for p in all_transcripts()}

# Known misses of scorer v2, kept visible rather than re-written to match the scorer (issue 12 stays
# open on them). strict: once the scorer classifies one as written, the xfail itself fails.
KNOWN_MISSES = {
    "i02_relayed_claim_p2p": "a relayed single-shard count ('they said apple: 24') is switched off: its "
                             "measured chance match is 2.03%, over the 1% threshold (docs/chance_match.md)",
    "ii15_machine_state_chain_p2p": "a scanning-machine state in words plus a small count is not recognised "
                                    "as II-15's chain carry",
}


def _classified_params():
    return [pytest.param(t, marks=pytest.mark.xfail(reason=KNOWN_MISSES[t], strict=True))
            if t in KNOWN_MISSES else t for t in sorted(PATHS)]


@cache
def _built(tid: str):
    t = load(PATHS[tid])
    return t, build(t)


def _facts(ep: Episode) -> dict[int, tuple[bool, bool | None, bool, bool]]:
    """agent -> (submitted, correct, full reach, self-contained), without the scorer."""
    task, inst = get_task(ep.instance.task), ep.instance
    subs = {s.agent: s for s in ep.submissions}
    reach = reach_sets(ep)
    out = {}
    for a in range(inst.n_agents):
        ok = task.check(subs[a].answer, inst.truth[a])[0] if a in subs else None
        dep = task.depends_on(inst, a)
        out[a] = (a in subs, ok, dep <= reach[a], dep == frozenset({a}))
    return out


@pytest.mark.parametrize("tid", sorted(PATHS))
def test_transcript_consistent(tid):
    """The written class agrees with what needs no scorer: submitted, right or wrong, full reach, solo."""
    t, ep = _built(tid)
    facts = _facts(ep)
    bad = []
    for e in t.expect:
        submitted, correct, full, solo = facts[e.agent]
        if e.self_contained != solo:
            bad.append(f"agent {e.agent}: self_contained is {e.self_contained} but depends_on gives {solo}")
        if (e.outcome == "no_answer") == submitted:
            bad.append(f"agent {e.agent}: {e.outcome} but submitted={submitted}")
        elif submitted and (e.outcome in ("correct", "lucky")) != correct:
            bad.append(f"agent {e.agent}: {e.outcome} but the answer is {'right' if correct else 'wrong'}")
        elif e.outcome in ("correct", "relay_loss", "integration_error") and not full:
            bad.append(f"agent {e.agent}: {e.outcome} needs full reach")
        elif e.outcome == "uninformed" and full:
            bad.append(f"agent {e.agent}: uninformed but reach is full")
    assert not bad, f"{tid}: transcript inconsistent with its own expectations: {bad}"


@pytest.mark.parametrize("tid", _classified_params())
def test_transcript_classified(tid):
    """The scorer puts every agent in the class the transcript's reader decided."""
    t, ep = _built(tid)
    score = score_episode(ep)
    got = {a.agent: a for a in score.agents}
    wrong = [f"agent {e.agent}: expected {e.outcome}, scored {got[e.agent].outcome} "
             f"(reach {got[e.agent].reach}, evidence {got[e.agent].evidence}) - why: {e.why}"
             for e in t.expect if got[e.agent].outcome != e.outcome]
    for e in t.expect:
        flag = getattr(got[e.agent], "self_contained", None)
        if flag is not None and flag != e.self_contained:
            wrong.append(f"agent {e.agent}: self_contained expected {e.self_contained}, scored {flag}")
    for key, want in t.episode.items():
        if getattr(score, key) != want:
            wrong.append(f"episode {key}: expected {want}, scored {getattr(score, key)}")
    assert not wrong, f"{tid} ({t.title}):\n  " + "\n  ".join(wrong)


def test_corpus_coverage():
    """At least 60 transcripts over 15+ tasks, every level, the three base protocols, every class."""
    ts = [load(p) for p in PATHS.values()]
    tasks = {t.task for t in ts}
    assert len(ts) >= 60, len(ts)
    assert len(tasks) >= 15, sorted(tasks)
    assert {get_task(x).level for x in tasks} == {1, 2, 3}
    assert {t.protocol for t in ts} >= {"p2p", "broadcast", "sfs"}
    assert {e.outcome for t in ts for e in t.expect} >= {"correct", "lucky", "uninformed", "relay_loss",
                                                         "integration_error", "no_answer"}
