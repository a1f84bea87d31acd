"""Role-agnostic prompt templates, versioned, with variants selectable per run.

Every agent gets the same text; only its id and its private data differ. There are no roles,
and the prompt says that no single agent has enough information alone. Variants:
  neutral     the base prompt (default)
  plan        round 1 is a planning round: agree on who sends what before exchanging data
  reminder    every round restates the actions and the rules
  scratchpad  the agent writes a short private thought before each action
  hints       adds the task's `hint` (the reference generator's algorithm and optimal topology
              text), reproducing the reference's "topology leak" as an ablation
Any change to the text of a template bumps PROMPT_VERSION (it is recorded with every episode).
"""

from __future__ import annotations

import json
from typing import Any

from silo.records import ActionSpec, EpisodeConfig, Instance

PROMPT_VERSION = 1
VARIANTS = ("neutral", "plan", "reminder", "scratchpad", "hints")
THOUGHT_CHARS = 400


def check_variant(variant: str) -> str:
    """Validate a prompt variant name."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; known: {', '.join(VARIANTS)}")
    return variant


def signature(s: ActionSpec) -> str:
    """`name(arg: type, ...)`: how an action is shown in the prompt."""
    props = s.parameters.get("properties", {})
    args = ", ".join(f"{k}: {v.get('type', 'any JSON value')}" for k, v in props.items())
    return f"{s.name}({args})"


def action_list(specs: list[ActionSpec]) -> str:
    """One line per action: signature and description."""
    return "\n".join(f"- {signature(s)}: {s.description}" for s in specs)


def _format_rules(mode: str, scratchpad: bool) -> str:
    if mode == "tools":
        text = "Act by calling the tools (functions) listed above, one or more per reply."
        if scratchpad:
            text += " Before each tool call, write a short private note of your reasoning in the reply text."
        return text
    shape = '{"name": "<action>", "arguments": {...}}'
    if scratchpad:
        shape = '{"thought": "<short private reasoning>", "name": "<action>", "arguments": {...}}'
    return (f"Act by replying with exactly one action as a JSON object and nothing else: {shape}\n"
            'Example: {"name": "wait", "arguments": {}}'
            + ("" if not scratchpad else "\nThe thought is private: no other agent sees it."))


def system_prompt(inst: Instance, cfg: EpisodeConfig, me: int, specs: list[ActionSpec], mode: str,
                  hint: str = "") -> str:
    """The first message of every agent: the shared part (task, protocol, actions, rules), then its own part."""
    return shared_prompt(inst, cfg, specs, mode, hint) + "\n\n" + own_prompt(inst, me)


def shared_prompt(inst: Instance, cfg: EpisodeConfig, specs: list[ActionSpec], mode: str, hint: str = "") -> str:
    """The part identical for every agent of an episode; it comes first, so model servers can reuse its cache."""
    n = inst.n_agents
    variant = check_variant(cfg.prompt_variant)
    from silo.protocols import protocol_class

    proto = protocol_class(cfg.protocol)
    if n > 1:
        team = (f"A team of {n} agents (ids 0 to {n - 1}) works on one task. Every agent receives these same "
                "instructions; only its id and its private data differ. There are no roles: no agent is in charge. "
                "No single agent has enough information alone to solve the task.")
    else:
        team = "One agent works on a task alone, holding all the data."
    parts = [team, "", "TASK", inst.description, f"Answer format: {inst.answer_format}"]
    if inst.params:
        parts.append(f"Public parameters: {json.dumps(inst.params, sort_keys=True)}")
    parts += ["", f"COMMUNICATION ({proto.name})", proto.description, "Actions:", action_list(specs), "", "RULES",
              _rules(cfg, n), _format_rules(mode, variant == "scratchpad")]
    if variant == "hints" and hint:
        parts += ["", "HINT", hint]
    return "\n".join(parts)


def own_prompt(inst: Instance, me: int) -> str:
    """The agent's own part: its id and its private data."""
    if inst.n_agents == 1:
        return f"YOU\nYou are agent 0. Your data:\n{inst.shards[me].text}"
    return (f"YOU\nYou are agent {me}. Your private data (only you can see it; every other agent holds different "
            f"data):\n{inst.shards[me].text}")


def _rules(cfg: EpisodeConfig, n: int) -> str:
    text = (f"The work proceeds in synchronous rounds (at most {cfg.max_rounds}). In each round you may take up "
            f"to {cfg.action_budget} actions; end your turn with wait(). ")
    if n > 1:
        text += "Whatever you send or write in a round becomes visible to the others in the next round. "
        text += "Every agent must submit its own answer with submit_result; "
    else:
        text += "You must submit your answer with submit_result; "
    return text + "submitting is final, and an agent that never submits counts as wrong."


def round_message(cfg: EpisodeConfig, rnd: int, specs: list[ActionSpec], n: int) -> str:
    """The user message that opens each round."""
    variant = cfg.prompt_variant
    lines = [f"Round {rnd} of at most {cfg.max_rounds}. You may take up to {cfg.action_budget} actions this round."]
    if variant == "plan" and rnd == 1 and n > 1:
        lines.append("This first round is a planning round: do not exchange your data yet. Propose to the other "
                     "agents how the team should combine its information (who sends what to whom, and who "
                     "computes what), then wait. Start exchanging data from round 2.")
    if variant == "reminder":
        lines += ["Reminder of your actions:", action_list(specs),
                  "End your turn with wait(); every agent must submit its answer with submit_result (final)."]
    return "\n".join(lines)


def format_result(action: str, ok: bool, result: Any) -> str:
    """How an action's result is shown back to the model."""
    body = result if isinstance(result, str) else json.dumps(result)
    return f"{action} -> {body}" if ok else f"{action} -> ERROR: {body}"


def action_schema(specs: list[ActionSpec], scratchpad: bool, max_chars: int = 400) -> dict[str, Any]:
    """JSON schema of one action (name + its own arguments), to constrain models without tool calling."""
    options = []
    for s in specs:
        props: dict[str, Any] = {}
        if scratchpad:
            props["thought"] = {"type": "string", "maxLength": THOUGHT_CHARS}
        props["name"] = {"const": s.name}
        props["arguments"] = _bounded(s.parameters, max_chars)
        options.append({"type": "object", "properties": props, "required": list(props),
                        "additionalProperties": False})
    return {"anyOf": options}


_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 200}, {"type": "boolean"}]}
_FLAT = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]}
# "any JSON value", two levels deep at most: every task answer fits (numbers, lists, matrices, small
# objects), while a constrained small model can no longer nest junk objects until max_tokens
ANSWER_VALUE = {"anyOf": [_SCALAR, {"type": "array", "items": _FLAT},
                          {"type": "object", "additionalProperties": _FLAT}]}


SHORT_ARGS = {"path": 120, "prefix": 120}  # file names need no more


def _bounded(schema: dict[str, Any], max_chars: int) -> dict[str, Any]:
    # bound free-text arguments so a constrained small model cannot ramble until max_tokens
    out = json.loads(json.dumps(schema))
    for name, prop in out.get("properties", {}).items():
        if prop.get("type") == "string":
            prop.setdefault("maxLength", min(max_chars, SHORT_ARGS.get(name, max_chars)))
        elif "type" not in prop and "anyOf" not in prop:
            out["properties"][name] = {**ANSWER_VALUE, **prop}
    return out


class History:
    """One agent's conversation, append-only until it nears the context window.

    Then, oldest first, long action results and long replies are elided (replaced by a marker);
    if that is not enough, the oldest exchanges are removed whole, behind one marker message.
    The system message (task, data) and the last two exchanges are always kept."""

    MARK = "[elided to fit the context window: {} characters of an old {}]"
    MIN_ELIDE = 160  # shorter texts are kept: the marker would not be shorter
    DROPPED = "[earlier conversation removed to fit the context window: {} messages]"

    def __init__(self, window: int, max_tokens: int):
        self.messages: list[dict[str, Any]] = []
        self.window = window
        self.limit = max(window // 2, window - max_tokens)  # room left for the reply
        self.tokens_per_char = 0.4  # calibrated on every reply's real token count
        self._pending: list[tuple[str, bool]] = []
        self._parts: list[list[tuple[str, bool]] | None] = []  # per message: (text, elidable) parts of user/tool
        self.dropped = 0

    def add(self, role: str, content: str | None, **extra: Any) -> None:
        self._flush()
        self._append({"role": role, "content": content, **extra}, None)

    def tool(self, call_id: str, content: str) -> None:
        self._append({"role": "tool", "tool_call_id": call_id, "content": content}, [(content, True)])

    def note(self, text: str, elidable: bool = False) -> None:
        """Text for the next user message (results and the round header share one message)."""
        self._pending.append((text, elidable))

    def _append(self, msg: dict[str, Any], parts: list[tuple[str, bool]] | None) -> None:
        self.messages.append(msg)
        self._parts.append(parts)

    def _flush(self) -> None:
        if self._pending:
            self._append({"role": "user", "content": "\n\n".join(t for t, _ in self._pending)}, self._pending)
            self._pending = []

    def send(self) -> list[dict[str, Any]]:
        """The messages of the next request (a copy: later changes do not alter logged requests)."""
        self._flush()
        return json.loads(json.dumps(self.messages))

    def observe(self, sent: list[dict], input_tokens: int) -> None:
        if input_tokens > 0:
            self.tokens_per_char = input_tokens / max(1, _chars(sent))

    def estimate(self) -> int:
        return int((_chars(self.messages) + sum(len(t) for t, _ in self._pending)) * self.tokens_per_char)

    def fit(self, force: bool = False) -> dict[str, Any] | None:
        """Shrink the history once the estimate nears the limit (or when forced); report what was done."""
        before = self.estimate()
        if before <= 0.9 * self.limit and not force:
            return None
        target = (0.4 if force else 0.6) * self.limit  # well below the limit, so this happens rarely
        elided = self._elide(target)
        dropped = self._drop(target)
        if not (elided or dropped):
            return None
        return {"elided": elided, "dropped": dropped, "est_tokens_before": before,
                "est_tokens_after": self.estimate(), "window": self.window}

    def _elide(self, target: float) -> int:
        count = 0
        for i in range(1, len(self.messages)):
            if self.estimate() <= target:
                break
            count += self._elide_one(i)
        return count

    def _elide_one(self, i: int) -> int:
        msg, parts = self.messages[i], self._parts[i]
        if parts is not None:
            new = [(self.MARK.format(len(t), "action result"), False) if e and len(t) > self.MIN_ELIDE else (t, e)
                   for t, e in parts]
            if new == parts:
                return 0
            self._parts[i] = new
            msg["content"] = "\n\n".join(t for t, _ in new)
            return 1
        changed = 0
        if msg["role"] == "assistant" and len(msg.get("content") or "") > self.MIN_ELIDE:
            msg["content"] = self.MARK.format(len(msg["content"]), "reply")
            changed = 1
        for call in msg.get("tool_calls") or []:
            args = call["function"]["arguments"] or ""
            if len(args) > self.MIN_ELIDE:
                call["function"]["arguments"] = json.dumps({"elided": self.MARK.format(len(args), "tool call")})
                changed = 1
        return changed

    def _drop(self, target: float) -> int:
        """Remove the oldest exchanges (an assistant message and what follows it) after the system message."""
        removed = 0
        while self.estimate() > target:
            starts = [i for i, m in enumerate(self.messages) if m["role"] == "assistant"]
            if len(starts) <= 2:
                break
            has_marker = (self.messages[1].get("content") or "").startswith(self.DROPPED[:20])
            begin, end = (2 if has_marker else 1), starts[1]
            del self.messages[begin:end]
            del self._parts[begin:end]
            removed += end - begin
            self.dropped += end - begin
            if not has_marker:
                self.messages.insert(1, {"role": "user", "content": ""})
                self._parts.insert(1, None)
            self.messages[1]["content"] = self.DROPPED.format(self.dropped)
        return removed


def _chars(messages: list[dict]) -> int:
    return len(json.dumps(messages))
