"""The round loop: all live agents act in parallel on what was visible at the end of the last round."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from typing import Protocol as TypingProtocol

from silo.protocols import ActionError, Protocol, protocol_class
from silo.protocols.base import bookkeeping_event
from silo.records import Action, ActionSpec, Episode, EpisodeConfig, Event, Instance, Submission, Usage
from silo.sanitize import ERROR_CHARS, clean

WAIT = ActionSpec(name="wait", description="End your turn for this round.",
                  parameters={"type": "object", "properties": {}, "additionalProperties": False})
SUBMIT = ActionSpec(
    name="submit_result",
    description="Submit your final answer. This is final: you leave the episode.",
    parameters={"type": "object", "properties": {"answer": {"description": "your answer (JSON value)"}},
                "required": ["answer"], "additionalProperties": False},
)


class AgentFailure(Exception):
    """An agent could not act (e.g. model retries exhausted): the episode ends with status error."""


class Turn:
    """One agent's turn in one round: executes actions immediately, up to the action budget."""

    def __init__(self, rnd: int, agent: int, protocol: Protocol, budget: int, specs: list[ActionSpec]):
        self.round, self.agent, self.budget = rnd, agent, budget
        self.protocol, self.specs = protocol, specs
        self.used = 0
        self.events: list[Event] = []
        self.submission: Submission | None = None
        self.waited = False

    @property
    def done(self) -> bool:
        """True once the agent waited, submitted or used its budget."""
        return self.waited or self.submission is not None or self.used >= self.budget

    def log(self, event: Event) -> None:
        """Append an agent-side event (model calls, notes) to this turn, bounded and JSON-safe."""
        self.events.append(clean_event(event))

    def do(self, action: Action) -> tuple[bool, Any]:
        """Execute an action; returns (ok, result-or-error-message). Never raises on bad input."""
        args = clean(action.args)  # what a model wrote is bounded before anything stores it
        if args is not action.args:
            action = Action(name=clean(action.name, 200), args=args if isinstance(args, dict) else {})
        if self.submission is not None:
            return self._error(action, "you already submitted; submit_result is final")
        if self.done:
            return self._error(action, "action budget for this round is used up; wait for the next round")
        self.used += 1
        if action.name == "wait":
            if action.args:
                return self._error(action, "wait takes no arguments")
            self.waited = True
            self.events.append(bookkeeping_event(round=self.round, agent=self.agent, kind="wait", action="wait"))
            return True, "waiting for the next round"
        if action.name == "submit_result":
            return self._submit(action)
        try:
            result, events = self.protocol.execute(self.round, self.agent, action)
        except ActionError as e:
            return self._error(action, str(e))
        self.events.extend(events)
        return True, result

    def _submit(self, action: Action) -> tuple[bool, Any]:
        # a protocol may accept more submit arguments (e.g. +commit's agrees_with) and validate them
        allowed = set(submit_spec(self.protocol).parameters["properties"])
        if "answer" not in action.args or not set(action.args) <= allowed:
            if allowed == {"answer"}:
                return self._error(action, "submit_result takes exactly one argument, 'answer'")
            return self._error(action, f"submit_result takes 'answer' and optionally {sorted(allowed - {'answer'})}")
        args = {"answer": action.args["answer"]}
        check = getattr(self.protocol, "check_submit", None)
        if check is not None:
            try:
                args = check(self.round, self.agent, dict(action.args))
            except ActionError as e:
                return self._error(action, str(e))
        self.submission = Submission(agent=self.agent, round=self.round, answer=args["answer"])
        self.events.append(Event(round=self.round, agent=self.agent, kind="submit", action="submit_result",
                                 args=args))
        return True, "submitted"

    def _error(self, action: Action, msg: str) -> tuple[bool, str]:
        self.events.append(Event(round=self.round, agent=self.agent, kind="error", action=action.name,
                                 args=_safe_args(action.args), result=msg))
        return False, msg


def submit_spec(protocol: Protocol) -> ActionSpec:
    """The submit_result spec a protocol offers (layers such as +commit extend it)."""
    return getattr(protocol, "submit_spec", SUBMIT)


def _safe_args(args: Any) -> dict:
    """Arguments quoted in an error event: a rejected 10 MB payload is not stored in full."""
    if not isinstance(args, dict):
        return {"raw": repr(args)[:500]}
    out = clean(args, ERROR_CHARS)
    return out if isinstance(out, dict) else {}


def clean_event(e: Event) -> Event:
    """The event with its free-form fields made JSON-safe and bounded (itself if already safe)."""
    args, result, data = clean(e.args), clean(e.result), clean(e.data)
    content = clean(e.content) if e.content is not None else None
    if args is e.args and result is e.result and data is e.data and content is e.content:
        return e
    return e.model_copy(update={"args": args, "result": result, "data": data, "content": content})


class Agent(TypingProtocol):
    """Anything that can take a turn: scripted reference agents and LLM agents alike."""

    async def take_turn(self, turn: Turn) -> None: ...


def run_sync(coro):
    """Run a coroutine on a fresh event loop (measured ~2x less overhead than asyncio.run per episode)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def episode_id(cfg: EpisodeConfig, instance_id: str) -> str:
    """Deterministic episode id from its config and instance."""
    import hashlib

    blob = cfg.model_dump_json() + instance_id
    return f"{instance_id}-{cfg.protocol}-{cfg.team}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


async def run_episode(instance: Instance, cfg: EpisodeConfig, agents: list[Agent]) -> Episode:
    """Run rounds until every agent submitted or max_rounds passed; errors end it with status error."""
    start = time.perf_counter()
    proto = protocol_class(cfg.protocol)(instance.n_agents, cfg.limits, cfg.extra)
    if hasattr(proto, "bind_instance"):  # tools that replay causality (+suff) need the task and instance
        proto.bind_instance(instance)
    specs = [*proto.specs(), WAIT, submit_spec(proto)]
    events: list[Event] = []
    subs: dict[int, Submission] = {}
    status, error, rnd = "max_rounds", None, 0
    for rnd in range(1, cfg.max_rounds + 1):
        turns = [Turn(rnd, a, proto, cfg.action_budget, specs) for a in range(instance.n_agents) if a not in subs]
        results = await asyncio.gather(*(agents[t.agent].take_turn(t) for t in turns), return_exceptions=True)
        start_of_round = len(events)
        for t in turns:  # agent order keeps the log deterministic whatever the scheduling
            events.extend(t.events)
            if t.submission is not None:
                subs[t.agent] = t.submission
        events.extend(proto.end_round(rnd))
        proto.observe(events[start_of_round:])
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            status, error = "error", f"{type(failure).__name__}: {failure}"
            break
        if all(a in subs or getattr(agents[a], "lingers", False) for a in range(instance.n_agents)):
            status = "complete"  # partners (agents.partners) linger: done when every other agent submitted
            break
    return Episode(
        id=episode_id(cfg, instance.id), config=cfg, instance=instance, events=events,
        submissions=sorted(subs.values(), key=lambda s: s.agent), status=status, error=error,
        rounds=rnd, usage=_usage(events), world=proto.world_view(), wall_s=round(time.perf_counter() - start, 4),
    )


def _usage(events: list[Event]) -> Usage:
    u = Usage()
    for e in events:
        if e.kind == "model_call":
            d = e.data
            u.calls += 1
            u.input_tokens += d.get("input_tokens", 0)
            u.output_tokens += d.get("output_tokens", 0)
            u.cached_tokens += d.get("cached_tokens", 0)
            u.cost_usd += d.get("cost_usd") or 0.0
            u.latency_s += d.get("latency_s", 0.0)
    return u
