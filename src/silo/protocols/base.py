"""The protocol contract: actions with JSON schemas, their effects, round-synchronous visibility."""

from __future__ import annotations

from typing import Any, ClassVar

from silo.records import Action, ActionSpec, Event, Limits


class ActionError(Exception):
    """An invalid action: returned to the agent as an error and logged, never fatal."""


def spec(name: str, description: str, **props: tuple[str, str]) -> ActionSpec:
    """Build an ActionSpec; props map arg name -> (json type, description), all required."""
    properties = {k: {"type": t, "description": d} for k, (t, d) in props.items()}
    params = {"type": "object", "properties": properties, "required": list(props), "additionalProperties": False}
    return ActionSpec(name=name, description=description, parameters=params)


# what agents can do on a protocol, named by the action that does it; scripted teams pick their way of
# communicating from these, never from a protocol's name
CAPABILITY_OF_ACTION = {
    "send_message": "direct",          # send_message(target_id, content): to one agent
    "broadcast_message": "broadcast",  # broadcast_message(content): to every other agent
    "receive_messages": "inbox",       # receive_messages(): [{from, content}, ...] delivered so far
    "write_file": "files",             # write_file(path, content) / list_files(prefix) / read_file(path)
    "append_entry": "entries",         # append_entry(key, type, value) / list_entries(prefix) / read_entry(key)
    "propose": "propose",              # propose(answer) / read_proposals(); submit_result(agrees_with=...)
    "check_reach": "check_reach",      # check_reach(): whose data can have reached me
}

_SHARED_EMPTY: dict = {}  # the empty args and data of every bookkeeping event (a logged event is never mutated)
_FIELDS_SET: dict[tuple[str, ...], set[str]] = {}
_COUNTS: dict[int, dict] = {}


def bookkeeping_event(**fields: Any) -> Event:
    """An Event, validated as any other, that shares its empty args and data and its set of given fields
    with every event made here: the waits and action echoes, one per agent per round, that are most of a
    big episode's log (N = 1,000 star reduce over p2p: 103,000 of 107,000 events), each ~40% smaller in
    memory (a wait 920 -> 576 bytes); and the sends and file reads, one per message or file read (gossip
    over p2p or sfs at N = 1,000: ~10^6 of them, 1,461 -> 605 bytes a read). The record, its JSON and every
    score are the same."""
    e = Event(**fields)
    d = e.__dict__
    if not d["args"]:
        d["args"] = _SHARED_EMPTY
    if not d["data"]:
        d["data"] = _SHARED_EMPTY
    key = tuple(fields)
    shared = _FIELDS_SET.get(key) or _FIELDS_SET.setdefault(key, set(key))
    object.__setattr__(e, "__pydantic_fields_set__", shared)  # what pydantic's model_construct(_fields_set) sets
    return e


def count_result(k: int) -> dict:
    """{"count": k}, the result of an action echo: one shared dict per k."""
    return _COUNTS.get(k) or _COUNTS.setdefault(k, {"count": k})


_PY_TYPES = {"string": str, "integer": int, "object": dict, "array": list, "number": (int, float)}


def check_args(s: ActionSpec, args: dict[str, Any]) -> dict[str, Any]:
    """Validate arguments against an ActionSpec's schema; raise ActionError with a clear message."""
    if not isinstance(args, dict):
        raise ActionError(f"{s.name}: arguments must be an object")
    props = s.parameters.get("properties", {})
    unknown = sorted(set(args) - set(props))
    if unknown:
        raise ActionError(f"{s.name}: unknown argument(s) {', '.join(unknown)}")
    out = dict(args)
    for name in s.parameters.get("required", []):
        if name not in args:
            raise ActionError(f"{s.name}: missing argument '{name}'")
    for name, val in args.items():
        typ = props[name].get("type")
        if typ == "integer" and isinstance(val, str) and val.strip().lstrip("-").isdigit():
            val = out[name] = int(val)  # small models quote ids; accept "3" for 3
        py = _PY_TYPES.get(typ)
        if py and (not isinstance(val, py) or (typ in ("integer", "number") and isinstance(val, bool))):
            raise ActionError(f"{s.name}: argument '{name}' must be {typ}")
    return out


class Protocol:
    """Base class: subclasses define `specs()` and one `do_<action>` method per action.

    Effects of round r become visible at round r+1: subclasses buffer them and commit in
    `end_round`, in (agent id, action order) so concurrent agents resolve deterministically.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, n_agents: int, limits: Limits | None = None, options: dict | None = None):
        self.n = n_agents
        self.limits = limits or Limits()
        self.options = options or {}

    def specs(self) -> list[ActionSpec]:
        """Actions this protocol offers besides wait and submit_result."""
        return []

    def capabilities(self) -> frozenset[str]:
        """What agents can do here (CAPABILITY_OF_ACTION), derived from the actions offered; override to narrow."""
        return frozenset(CAPABILITY_OF_ACTION[s.name] for s in self.specs() if s.name in CAPABILITY_OF_ACTION)

    def execute(self, rnd: int, agent: int, action: Action) -> tuple[Any, list[Event]]:
        """Run one action now; returns (result for the agent, events to log)."""
        by_name = {s.name: s for s in self.specs()}
        s = by_name.get(action.name)
        if s is None:
            known = ", ".join([*by_name, "wait", "submit_result"])
            raise ActionError(f"unknown action '{action.name}'; available: {known}")
        args = check_args(s, action.args)
        return getattr(self, f"do_{action.name}")(rnd, agent, **args)

    def end_round(self, rnd: int) -> list[Event]:
        """Commit buffered effects of round `rnd`; may return environment events."""
        return []

    def observe(self, events: list[Event]) -> None:
        """Called after each round with that round's events (e.g. to track causal reach)."""

    def world_view(self) -> dict[str, Any]:
        """Extra facts recorded in the episode (e.g. a communication graph)."""
        return {}

    # helpers shared by protocols
    def check_target(self, agent: int, target: int) -> None:
        if not 0 <= target < self.n:
            raise ActionError(f"unknown agent {target}; agent ids are 0..{self.n - 1}")
        if target == agent:
            raise ActionError("cannot send a message to yourself")

    def check_content(self, content: str, limit: int, what: str = "content") -> None:
        if len(content) > limit:
            raise ActionError(f"{what} too long: {len(content)} characters, limit {limit}")
