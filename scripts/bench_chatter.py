"""Plugin for the stress benchmark: the `chatter` scripted team (`silo --plugin bench_chatter run --team chatter`).

Every agent reads its mailbox and broadcasts a short message every round and never submits: N agents
x R rounds of broadcast is the engine's and scorer's worst everyday case. Only public API is used
(register_team, Action), so the same file runs against the previous release's code too.
"""

from __future__ import annotations

from silo.agents.scripted import TEAMS, register_team
from silo.records import Action


def chatter(task, ctx, inst):
    """Receive, broadcast one short line, wait; forever (the episode ends at max_rounds)."""
    r = 0
    while True:
        r += 1
        yield Action(name="receive_messages")
        yield Action(name="broadcast_message", args={"content": f"agent {ctx.me} round {r}"})
        yield Action(name="wait")


if "chatter" not in TEAMS:
    register_team("chatter", chatter)
