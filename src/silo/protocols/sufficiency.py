"""A sufficiency tool usable with any protocol (`<protocol>+suff`): "whose data has reached me?"

check_reach answers with the agent's causal reach K_i exactly as the scorer computes it: a
silo.scoring.Replay fed, through Protocol.observe, with each round's events, so the answer
reflects the end of the previous round (messages fetched or entries read during the current
round are not counted yet). It lists every agent reached, not the task's dependency set: the
agent still has to judge what it needs. The query itself carries no data and is logged as an
`action` event.
"""

from __future__ import annotations

from silo.protocols.base import ActionError, Protocol, bookkeeping_event, count_result, spec
from silo.records import Event, Instance


class SufficiencyLayer(Protocol):
    """Mixin adding check_reach to any protocol; needs bind_instance (the engine calls it)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._replay = None

    def bind_instance(self, inst: Instance) -> None:
        """Start tracking reach for this instance (reach depends only on the log; the task gives the replay)."""
        from silo.scoring import Replay  # late import: scoring imports the task registry
        from silo.tasks import get_task

        getattr(super(), "bind_instance", lambda _inst: None)(inst)
        self._replay = Replay(get_task(inst.task), inst)

    def specs(self):
        return [*super().specs(),
                spec("check_reach", "Which agents' data can have reached you so far, through messages you fetched, "
                     "proposals or entries you read (as of the end of the previous round). Use it to judge whether "
                     "you already hold the information your answer needs.")]

    def observe(self, events: list[Event]) -> None:
        super().observe(events)
        if self._replay is not None:
            self._replay.run(events)

    def reach_of(self, agent: int) -> list[int]:
        """Agents in agent's causal reach as of the last observed round."""
        if self._replay is None:
            raise ActionError("check_reach is unavailable: the protocol was not bound to an instance")
        return sorted(self._replay.reach[agent])

    def do_check_reach(self, rnd: int, agent: int):
        reached = self.reach_of(agent)
        missing = sorted(set(range(self.n)) - set(reached))
        result = {"reached": reached, "count": len(reached), "n_agents": self.n, "not_reached": missing,
                  "as_of_round": rnd - 1}
        ev = bookkeeping_event(round=rnd, agent=agent, kind="action", action="check_reach",
                               result=count_result(len(reached)))
        return result, [ev]
