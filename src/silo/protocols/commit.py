"""A commitment layer usable with any protocol (`<protocol>+commit`).

propose(answer)   a proposal visible to every agent from the next round (read_proposals);
                  logged as a `send` to all others; each read_proposals that fetches proposals
                  for the first time logs one `deliver` listing them, so the scorer's reach and
                  evidence follow proposals like messages.
submit_result     may declare `agrees_with`: ids of proposals whose answer the agent endorses
                  (proposals it has seen, or its own). Ids it cannot endorse never block the
                  answer: they are dropped and logged as an error event.
Agreement on a value v is reached in the first round by the end of which every agent has submitted
and endorsed some proposal whose answer is v (answers compared canonically: "984", 984, 984.0 are
one). The round is logged as a `note` event (action "agreement") and recorded with every proposal
and endorsement in Episode.world["commit"]; Episode.world["agreement_round"] is None if never.
Proposals are a global channel: combined with a graph (p2p:ring+commit) they bypass its edges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from silo.protocols.base import Protocol, bookkeeping_event, count_result, spec
from silo.protocols.messaging import Mailboxes, deliver_event
from silo.records import ActionSpec, Event
from silo.tasks.base import _canon

SUBMIT_COMMIT = ActionSpec(
    name="submit_result",
    description=("Submit your final answer. This is final: you leave the episode. Optionally list in agrees_with "
                 "the ids of proposals (see read_proposals, or your own) whose answer you agree with."),
    parameters={"type": "object", "properties": {
        "answer": {"description": "your answer (JSON value)"},
        "agrees_with": {"type": "array", "items": {"type": "integer"},
                        "description": "optional: ids of the proposals you agree with"}},
        "required": ["answer"], "additionalProperties": False},
)


PROPOSE = ActionSpec(
    name="propose",
    description=("Propose an answer to every agent (visible from the next round via read_proposals). Others can "
                 "endorse it when they submit (submit_result's agrees_with). You may propose more than once."),
    parameters={"type": "object", "properties": {"answer": {"description": "the proposed answer (JSON value)"}},
                "required": ["answer"], "additionalProperties": False},
)


def answer_key(answer: Any) -> str:
    """Canonical form of an answer, so equal answers in different spellings compare equal."""
    return json.dumps(_canon(answer), sort_keys=True)


@dataclass(frozen=True)
class Proposal:
    id: int
    agent: int
    round: int
    answer: Any

    def public(self) -> dict:
        return {"proposal_id": self.id, "from": self.agent, "round": self.round, "answer": self.answer}


class CommitLayer(Protocol):
    """Mixin adding propose/read_proposals and endorsements on submit to any protocol."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._proposals: list[Proposal] = []
        self._pending_props: list[Proposal] = []
        self._own_next_id = 0
        self._delivered: dict[int, set[int]] = {}
        self._endorse: dict[int, dict] = {}
        self._pending_endorse: list[dict] = []
        self.agreement: dict | None = None

    submit_spec = SUBMIT_COMMIT

    def specs(self):
        return [*super().specs(),
                PROPOSE,
                spec("read_proposals", "List every proposal made so far (id, proposer, round, answer).")]

    def _new_msg_id(self) -> int:
        # proposals are messages: share the mailbox id space so the scorer's msg ids stay unique
        if isinstance(self, Mailboxes):
            i, self._next_id = self._next_id, self._next_id + 1
        else:
            i, self._own_next_id = self._own_next_id, self._own_next_id + 1
        return i

    def do_propose(self, rnd: int, agent: int, answer: Any):
        answer = _parse_json(answer)
        content = json.dumps(answer, ensure_ascii=False)
        self.check_content(content, self.limits.max_message_chars, "proposal")
        p = Proposal(self._new_msg_id(), agent, rnd, answer)
        self._pending_props.append(p)
        ev = Event(round=rnd, agent=agent, kind="send", action="propose", msg_id=p.id,
                   to=[a for a in range(self.n) if a != agent], content=content, chars=len(content))
        return {"ok": True, "proposal_id": p.id, "visible_from_round": rnd + 1}, [ev]

    def do_read_proposals(self, rnd: int, agent: int):
        seen = self._delivered.setdefault(agent, set())
        events = [bookkeeping_event(round=rnd, agent=agent, kind="action", action="read_proposals",
                                    result=count_result(len(self._proposals)))]
        new = [p for p in self._proposals if p.agent != agent and p.id not in seen]
        if new:  # first fetch of someone else's proposal: it reached us (one deliver event lists them all)
            seen.update(p.id for p in new)
            events.append(deliver_event(rnd, agent, "read_proposals", [
                (p.id, p.agent, len(json.dumps(p.answer, ensure_ascii=False))) for p in new]))
        return [p.public() for p in self._proposals], events

    def check_submit(self, rnd: int, agent: int, args: dict) -> dict:
        """Record a submission's endorsements (called by the engine on submit_result).

        Never blocks the answer: ids that name no proposal the agent can endorse are dropped, kept in
        the submit event as rejected_agrees_with, and logged as an error event at the end of the round."""
        raw = args.get("agrees_with", [])
        known = {p.id: p for p in self._proposals}
        known.update({p.id: p for p in self._pending_props if p.agent == agent})
        ids, rejected = set(), []
        for x in raw if isinstance(raw, list) else [raw]:
            i = _as_id(x)
            if i in known:
                ids.add(i)
            else:
                rejected.append(x)
        keys = {answer_key(known[i].answer) for i in ids}
        consistent = keys == {answer_key(args["answer"])} if ids else None
        self._pending_endorse.append({"agent": agent, "round": rnd, "agrees_with": sorted(ids),
                                      "values": sorted(keys), "consistent": consistent,
                                      "rejected": rejected, "endorsable": sorted(known)[:50]})
        out = {"answer": args["answer"]}
        if "agrees_with" in args:
            out["agrees_with"] = sorted(ids)
        if rejected:
            out["rejected_agrees_with"] = rejected
        return out

    def end_round(self, rnd: int) -> list[Event]:
        events = super().end_round(rnd)
        self._proposals += sorted(self._pending_props, key=lambda p: (p.agent, p.id))
        self._pending_props.clear()
        for e in self._pending_endorse:
            rejected, endorsable = e.pop("rejected"), e.pop("endorsable")
            if rejected:
                events.append(Event(round=rnd, agent=e["agent"], kind="error", action="submit_result",
                                    args={"agrees_with": rejected},
                                    result=f"agrees_with: ignored {rejected}: not ids of proposals you could "
                                           f"endorse ({endorsable}); the answer was submitted"))
            self._endorse[e["agent"]] = e
        self._pending_endorse.clear()
        if self.agreement is None:
            self.agreement = self._agreed(rnd)
            if self.agreement is not None:
                events.append(Event(round=rnd, agent=-1, kind="note", action="agreement", data=self.agreement))
        return events

    def _agreed(self, rnd: int) -> dict | None:
        if len(self._endorse) < self.n:
            return None
        common = set.intersection(*(set(e["values"]) for e in self._endorse.values()))
        if not common:
            return None
        value = min(common)
        endorsed = {i for e in self._endorse.values() for i in e["agrees_with"]}
        ids = sorted(p.id for p in self._proposals if p.id in endorsed and answer_key(p.answer) == value)
        return {"round": rnd, "answer": json.loads(value), "proposals": ids}

    def world_view(self):
        support: dict[str, int] = {}
        for e in self._endorse.values():
            for v in e["values"]:
                support[v] = support.get(v, 0) + 1
        commit = {"proposals": [p.public() for p in self._proposals],
                  "endorsements": [self._endorse[a] for a in sorted(self._endorse)],
                  "max_support": max(support.values(), default=0), "agreement": self.agreement}
        return {**super().world_view(), "commit": commit,
                "agreement_round": self.agreement["round"] if self.agreement else None}


def _as_id(x: Any) -> int | None:
    """A proposal id from an int or a numeric string (small models quote ids)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, str) and x.strip().isdigit():
        return int(x.strip())
    return None


def _parse_json(answer: Any) -> Any:
    """Proposals arrive as text from LLM tools; store JSON text as its value so answers compare canonically."""
    if isinstance(answer, str):
        try:
            return json.loads(answer)
        except ValueError:
            return answer
    return answer
