"""LLM agents: one conversation per agent, a tool loop per round, every model call in the event log.

Action modes: "tools" (native tool calling, for models litellm knows support it), "json_schema"
(one JSON action per reply, constrained by a JSON schema: the embedded model) and "json" (one
JSON action per reply, free text read by the tolerant parser). Override with
EpisodeConfig.extra["action_mode"]. Malformed replies and unknown actions are answered with an
error, counted and logged as `error` events, never fatal; a model call that fails for good
raises AgentFailure (the episode ends with status error and is re-run later).

Logged model calls (Event kind "model_call", one per attempt) store the messages sent as a delta:
`prefix_len` messages of the previous logged call of the same agent, then `messages`. So the
k-th request is  full[k] = full[k-1][:prefix_len] + messages  (full[0] = []); `replay_messages`
rebuilds them. Tools / response_format are stored when they change (first call), else omitted.

Other EpisodeConfig.extra keys read here: context_window (tokens; default from litellm's model
map or the embedded server's slot size); the model options are listed in silo.llm.LLMSettings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from silo import prompts
from silo.agents.action_parser import ActionParseError, normalise_name, parse_action_detail, parse_arguments
from silo.episode import AgentFailure, Turn
from silo.llm import Client, LLMError, LLMSettings, Reply, context_window, supports_tools
from silo.local_model import DEFAULT_MODEL, is_local
from silo.prompts import History
from silo.records import Action, ActionSpec, EpisodeConfig, Event, Instance
from silo.tasks import get_task

MODES = ("tools", "json_schema", "json")


def llm_team(inst: Instance, cfg: EpisodeConfig) -> list[LLMAgent]:
    """One LLM agent per shard; agent i uses cfg.models[i] (the embedded model if none given)."""
    prompts.check_variant(cfg.prompt_variant)
    models = cfg.models or [DEFAULT_MODEL] * inst.n_agents
    if len(models) != inst.n_agents:
        raise ValueError(f"{len(models)} models for {inst.n_agents} agents")
    team = Team() if cfg.extra.get("prefill", True) and inst.n_agents > 1 else None
    return [LLMAgent(a, inst, cfg, models[a], team if is_local(models[a]) else None) for a in range(inst.n_agents)]


class Team:
    """State shared by the agents of one episode (embedded model only): one prefill of the shared
    prompt per local model, then the agents' first calls one at a time.

    All agents start in the same instant, so without it the embedded server would process the
    shared part of the prompt once per agent. A server slot's cache serves one conversation, so
    concurrent first calls would land on different slots and only one would find the prefilled
    prefix; one at a time, each picks the slot the previous one left (the longest common prefix)
    and reads only its own part. Later calls run concurrently (each conversation has its slot or
    is restored from the server's RAM prompt cache). Not for paid APIs (a prefill costs money,
    and their caching differs)."""

    def __init__(self):
        self._tasks: dict[str, asyncio.Task] = {}
        self._first: dict[str, asyncio.Lock] = {}

    async def prefilled(self, model: str, start: Callable[[], Awaitable[None]]) -> None:
        if model not in self._tasks:  # the first agent to arrive starts it; the others wait for it
            self._tasks[model] = asyncio.ensure_future(start())
        await self._tasks[model]

    def first_call(self, model: str) -> asyncio.Lock:
        """Held around each agent's first model call: one first call per model at a time."""
        return self._first.setdefault(model, asyncio.Lock())


def default_mode(model: str) -> str:
    """Native tools where supported; a schema-constrained JSON action for the embedded model."""
    if is_local(model):
        return "json_schema"
    return "tools" if supports_tools(model) else "json"


class LLMAgent:
    """An agent whose actions are chosen by a model through litellm."""

    def __init__(self, me: int, inst: Instance, cfg: EpisodeConfig, model: str, team: Team | None = None):
        self.me, self.inst, self.cfg, self.model = me, inst, cfg, model
        self.team = team
        self.settings = LLMSettings.from_extra(model, cfg.extra)
        self.client = Client(self.settings, cfg.replicate)
        self.mode = cfg.extra.get("action_mode") or default_mode(model)
        if self.mode not in MODES:
            raise ValueError(f"unknown action_mode {self.mode!r}; known: {', '.join(MODES)}")
        self.scratchpad = cfg.prompt_variant == "scratchpad"
        window = int(cfg.extra.get("context_window") or context_window(model))
        self.history = History(window, self.settings.max_tokens)
        self.calls = 0
        self._called = False  # an act call was made (the team serialises first calls)
        self.malformed = 0
        self._logged: list[dict] = []  # messages of the last logged call (delta encoding)
        self._logged_tools: Any = None

    # ---- the round -------------------------------------------------------------------
    async def take_turn(self, turn: Turn) -> None:
        """Model calls until the agent waits, submits or the round's action budget is used."""
        if not self.history.messages:
            hint = getattr(get_task(self.inst.task), "hint", "") or ""
            shared = prompts.shared_prompt(self.inst, self.cfg, turn.specs, self.mode, hint)
            if self.team is not None:
                await self.team.prefilled(self.model, lambda: self._prefill(turn, shared))
            self.history.add("system", shared + "\n\n" + prompts.own_prompt(self.inst, self.me))
        self.history.note(prompts.round_message(self.cfg, turn.round, turn.specs, self.inst.n_agents))
        for _ in range(turn.budget):  # model calls are bounded even when every reply is malformed
            if turn.done:
                break
            if self.team is not None and not self._called:  # its first act call (after the team's prefill)
                async with self.team.first_call(self.model):
                    reply = await self._call(turn)
            else:
                reply = await self._call(turn)
            self._called = True
            if self.mode == "tools" and reply.tool_calls:
                self._run_tool_calls(turn, reply)
            else:
                self._run_text(turn, reply)

    def _run_text(self, turn: Turn, reply: Reply) -> None:
        text = reply.content or ""
        self.history.add("assistant", text)
        try:
            action, how = parse_action_detail(text, _params(turn.specs))
            if action.name == "submit_result" and (reply.finish_reason == "length" or how == "truncated"):
                # an answer completed by the parser would be a fabricated one: make the model say it in full
                raise ActionParseError("the answer was cut off or incomplete, so nothing was submitted; "
                                       "submit it again, complete and short")
        except ActionParseError as e:
            self._malformed(turn, None, text, str(e))
            return
        ok, result = turn.do(action)
        self.history.note(prompts.format_result(action.name, ok, result), elidable=True)

    def _run_tool_calls(self, turn: Turn, reply: Reply) -> None:
        calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                 for c in reply.tool_calls]
        self.history.add("assistant", reply.content, tool_calls=calls)
        for c in reply.tool_calls:
            name = normalise_name(c["name"]) if c["name"] else ""
            if turn.done:
                self.history.tool(c["id"], f"{name} -> not executed: your turn is over for this round")
                continue
            try:
                args = parse_arguments(c["arguments"])
            except ActionParseError as e:
                self.history.tool(c["id"], f"{name} -> ERROR: {e}")
                self._malformed(turn, name, c["arguments"], str(e), noted=True)
                continue
            ok, result = turn.do(Action(name=name, args=args))
            self.history.tool(c["id"], prompts.format_result(name, ok, result))

    def _malformed(self, turn: Turn, name: str | None, raw: Any, err: str, noted: bool = False) -> None:
        self.malformed += 1
        turn.log(Event(round=turn.round, agent=self.me, kind="error", action=name,
                       args={"raw": str(raw)[:1000]}, result=f"malformed action: {err}"))
        if not noted:
            self.history.note(f"ERROR: {err}", elidable=True)

    # ---- the model call ------------------------------------------------------------
    def _request_shape(self, specs: list[ActionSpec]) -> tuple[list[dict] | None, dict | None]:
        if self.mode == "tools":
            tools = [{"type": "function", "function": {"name": s.name, "description": s.description,
                                                       "parameters": s.parameters}} for s in specs]
            return tools, None
        if self.mode == "json_schema":
            schema = prompts.action_schema(specs, self.scratchpad)
            return None, {"type": "json_schema", "json_schema": {"name": "action", "schema": schema, "strict": True}}
        return None, None

    async def _call(self, turn: Turn) -> Reply:
        for force in (False, True):  # a request over the window is shrunk harder and sent once more
            shrunk = self.history.fit(force)
            if shrunk:
                turn.log(Event(round=turn.round, agent=self.me, kind="note", data={"context_shrunk": shrunk}))
            messages = self.history.send()
            tools, fmt = self._request_shape(turn.specs)
            try:
                reply = await self._logged_call(turn, self.client, messages, tools, fmt)
            except LLMError as e:
                if e.context_exceeded and not force:
                    continue
                raise AgentFailure(f"agent {self.me} ({self.model}): {e}") from None
            self.history.observe(messages, reply.input_tokens)
            return reply
        raise AssertionError("unreachable")

    async def _logged_call(self, turn: Turn, client: Client, messages: list[dict], tools: Any, fmt: Any,
                           purpose: str = "act") -> Reply:
        self.calls += 1

        def on_attempt(rec: dict[str, Any]) -> None:
            data = self._call_record(messages, tools, fmt, rec, client.s.sampling(self.cfg.replicate))
            data["purpose"] = purpose
            turn.log(Event(round=turn.round, agent=self.me, kind="model_call", data=data))

        accept = self._readable(turn) if purpose == "act" else None
        return await client.complete(messages, tools, fmt, on_attempt, accept)

    def _readable(self, turn: Turn) -> Callable[[Reply], str | None]:
        """Why no action can be read from a reply (None: one can): such replies are asked again, never cached."""
        params = _params(turn.specs)

        def check(reply: Reply) -> str | None:
            if self.mode == "tools" and reply.tool_calls:
                return None
            try:
                parse_action_detail(reply.content or "", params)
            except ActionParseError as e:
                return str(e)
            return None

        return check

    async def _prefill(self, turn: Turn, shared: str) -> None:
        """One request with the team's shared prompt (max_tokens 1), so the server processes it once."""
        client = Client(replace(self.settings, max_tokens=1), self.cfg.replicate)
        try:
            await self._logged_call(turn, client, [{"role": "system", "content": shared}], None, None, "prefill")
        except LLMError:
            pass  # only an optimisation: the agents' own calls report the failure if it persists

    def _call_record(self, messages: list[dict], tools: Any, fmt: Any, rec: dict[str, Any],
                     sampling: dict[str, Any]) -> dict[str, Any]:
        prefix = _common_prefix(self._logged, messages)
        data: dict[str, Any] = {"model": self.model, "call": self.calls, "mode": self.mode,
                                "prompt_version": prompts.PROMPT_VERSION, "variant": self.cfg.prompt_variant,
                                "prefix_len": prefix, "messages": messages[prefix:], "sampling": sampling}
        if (tools, fmt) != self._logged_tools:
            data["tools"], data["response_format"] = tools, fmt
            self._logged_tools = (tools, fmt)
        self._logged = list(messages)
        data.update(rec)
        return data


def _params(specs: list[ActionSpec]) -> dict[str, list[str]]:
    return {s.name: list(s.parameters.get("properties", {})) for s in specs}


def _common_prefix(a: list[dict], b: list[dict]) -> int:
    k = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        k += 1
    return k


def replay_messages(events: list[Event], agent: int) -> list[list[dict]]:
    """The exact message list of each logged model call (attempt) of one agent, from the event log."""
    out: list[list[dict]] = []
    prev: list[dict] = []
    for e in events:
        if e.kind == "model_call" and e.agent == agent:
            prev = prev[:e.data["prefix_len"]] + list(e.data["messages"])
            out.append(prev)
    return out
