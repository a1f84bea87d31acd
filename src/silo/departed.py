"""Sends to departed agents: messages addressed to an agent that had already submitted (it never reads them).

A send in round r counts, per recipient k, when k submitted in a round before r (the sender could have
known: k's submit was visible from round r on). A send to an agent submitting in the same round r is
not counted (no agent can know it yet). On p2p a count is a message; on broadcast it is one lost
delivery per departed recipient, and `messages_to_departed_only` counts messages every recipient of
which had left. Shared-file writes are never counted (a file stays readable by whoever remains).
The protocol option `tell_departed` (EpisodeConfig.extra, off by default) makes the send result say
so ("agent k has already submitted ...") instead of a plain ok; the count is the same either way.
"""

from __future__ import annotations

from silo.records import Episode, Event


def left_rounds(ep: Episode) -> dict[int, int]:
    """Round in which each agent that submitted did so."""
    return {s.agent: s.round for s in ep.submissions}


def departed_recipients(e: Event, left: dict[int, int]) -> list[int]:
    """Recipients of a send event that had submitted in an earlier round (they never read it)."""
    return [k for k in e.to or [] if left.get(k, e.round) < e.round] if e.kind == "send" else []


def departed_sends(ep: Episode) -> dict[int, int]:
    """Per sending agent: (message, recipient) pairs sent to an agent that submitted in an earlier round."""
    left = left_rounds(ep)
    out = {a: 0 for a in range(ep.instance.n_agents)}
    first = min(left.values(), default=None)  # no send up to the first submit's round can count
    if first is None:
        return out
    for e in ep.events:
        if e.kind == "send" and e.agent >= 0 and e.round > first:
            out[e.agent] += len(departed_recipients(e, left))
    return out


def messages_to_departed_only(ep: Episode) -> int:
    """Messages none of whose recipients could read them any more."""
    left = left_rounds(ep)
    return sum(1 for e in ep.events if e.kind == "send" and e.to and len(departed_recipients(e, left)) == len(e.to))
