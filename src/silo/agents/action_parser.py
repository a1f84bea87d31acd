"""Tolerant parsing of actions written as text (models without native tool calling).

Accepted, in this order: a JSON object anywhere in the reply (code fences and prose around it
are ignored), after light repairs (single quotes, Python literals, trailing commas, a truncated
tail); then call syntax `send_message(target_id=1, content="hi")` or `wait()`. Object shapes:
{"name"|"action"|"tool"|"function": ..., "arguments"|"args"|"parameters"|"input": {...}},
OpenAI-style {"function": {"name", "arguments": "<json string>"}} and {"tool_calls": [...]},
or the arguments inlined next to the name. Whatever cannot be read raises ActionParseError,
whose message is shown to the model; unknown action names are left to the protocol to reject.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from silo.records import Action

NAME_KEYS = ("name", "action", "tool", "function", "action_name", "tool_name", "command")
ARG_KEYS = ("arguments", "args", "parameters", "params", "input", "action_input", "kwargs")
IGNORED_KEYS = {"thought", "thoughts", "reasoning", "type", "id", "explanation"}
FORMAT_HELP = 'reply with one JSON object such as {"name": "wait", "arguments": {}}'
MAX_PARSE_CHARS = 64_000  # longer replies are read up to here (a 512-token reply is ~2k characters)
MAX_STARTS = 64  # '{' positions tried: bounds the work on a reply of thousands of braces
MAX_WORK = 400_000  # characters of repair attempts decoded per reply (a hostile reply stays well under 1 s)


class ActionParseError(ValueError):
    """Text from which no action can be read."""


def parse_action(text: str | None, params: dict[str, list[str]] | None = None) -> Action:
    """The first action in a model reply. `params` maps action names to argument names (for call syntax)."""
    return parse_action_detail(text, params)[0]


def parse_action_detail(text: str | None, params: dict[str, list[str]] | None = None) -> tuple[Action, str | None]:
    """(action, how it was read): None = valid JSON as written, "repaired" = quotes, literals or
    trailing commas fixed, "truncated" = brackets closed or trailing elements dropped, "call" = call syntax."""
    if not isinstance(text, str) or not text.strip():
        raise ActionParseError(f"empty reply; {FORMAT_HELP}")
    try:
        return _parse(text[:MAX_PARSE_CHARS], params or {})
    except (RecursionError, MemoryError):
        raise ActionParseError(f"the reply is nested too deeply to read; {FORMAT_HELP}") from None


def _parse(text: str, params: dict[str, list[str]]) -> tuple[Action, str | None]:
    body = _strip_fences(text)
    for obj, level in _json_objects(body):
        action = _from_object(obj)
        if action is not None:
            return _fill_single(action, params), level
    action = _from_call(body, params)
    if action is not None:
        return action, "call"
    if "{" in body:
        raise ActionParseError(f"no valid action object in the reply; {FORMAT_HELP}")
    raise ActionParseError(f"no JSON action in the reply; {FORMAT_HELP}")


def _fill_single(action: Action, params: dict[str, list[str]]) -> Action:
    """A bare value given for a one-argument action becomes that argument ("answer": 42)."""
    names = params.get(action.name)
    if set(action.args) == {"_raw"} and names and len(names) == 1:
        raw = action.args["_raw"]
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                pass
        return Action(name=action.name, args={names[0]: raw})
    return action


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments (a JSON string, possibly malformed, or a dict) as a dict."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        raise ActionParseError(f"arguments must be a JSON object, got {type(raw).__name__}")
    try:
        for candidate, _level in _json_objects(_strip_fences(raw[:MAX_PARSE_CHARS])):
            return candidate
    except (RecursionError, MemoryError):
        raise ActionParseError("arguments are nested too deeply to read") from None
    raise ActionParseError(f"arguments are not a JSON object: {raw[:120]!r}")


def normalise_name(name: str) -> str:
    """'Send-Message', 'functions.send_message', 'wait()' -> 'send_message', 'wait'."""
    n = name.strip().strip("`'\"").removesuffix("()").rsplit(".", 1)[-1]
    return re.sub(r"[\s\-]+", "_", n).lower()


def _strip_fences(text: str) -> str:
    m = re.search(r"```(?:json|JSON|python)?\s*\n?(.*?)(?:```|$)", text, re.S)
    return m.group(1) if m and "{" in m.group(1) else text


def _json_objects(text: str):
    """(object, repair level) for every JSON object that decodes starting at some '{', in text order."""
    dec = json.JSONDecoder()
    work = 0
    for k, m in enumerate(re.finditer(r"\{", text)):
        if k >= MAX_STARTS:
            return
        for attempt, level in _attempts(text[m.start():]):
            work += len(attempt)
            if work > MAX_WORK:
                return
            try:
                obj, _ = dec.raw_decode(attempt)
            except ValueError:
                obj, level = _literal(attempt), level or "repaired"
            if isinstance(obj, dict):
                yield obj, level
                break


def _attempts(chunk: str):
    """The text as is; with what small models get wrong fixed (quotes, literals, trailing commas);
    then with a cut-off tail closed, dropping incomplete trailing elements one at a time."""
    yield chunk, None
    s = chunk.strip()
    if '"' not in s:
        s = s.replace("'", '"')
    s = re.sub(r"\bTrue\b", "true", s)
    s = re.sub(r"\bFalse\b", "false", s)
    s = re.sub(r"\bNone\b", "null", s)
    s = _balanced_prefix(re.sub(r",\s*([}\]])", r"\1", s))
    yield s, "repaired"
    yield _close(s), "truncated"
    for _ in range(20):  # bounded: each step drops one trailing element
        cut = _last_separator(s)
        if cut <= 0:
            return
        s = s[:cut]
        yield _close(s), "truncated"


def _scan(s: str):
    """Yield (index, char, open-bracket stack, structural) for every character; structural is
    False inside strings (including their quotes)."""
    stack: list[str] = []
    in_str = esc = False
    for k, ch in enumerate(s):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            yield k, ch, stack, False
            continue
        if ch == '"':
            in_str = True
            yield k, ch, stack, False
            continue
        if ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
        yield k, ch, stack, True


def _in_string_at_end(s: str) -> bool:
    in_str = esc = False
    for ch in s:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
    return in_str


def _balanced_prefix(s: str) -> str:
    """The text up to the end of the first complete top-level object, if there is one."""
    for k, ch, stack, structural in _scan(s):
        if structural and ch in "}]" and not stack:
            return s[:k + 1]
    return s


def _last_separator(s: str) -> int:
    """Index of the last ',' (or opening bracket + 1) outside strings: where an element boundary is."""
    last = -1
    for k, ch, _, structural in _scan(s):
        if structural and ch == ",":
            last = k
        elif structural and ch in "{[":
            last = k + 1
    return last if last < len(s) else -1


def _close(s: str) -> str:
    """Close an unterminated string and every open bracket."""
    stack: list[str] = []
    for _, _, st, _ in _scan(s):
        stack = st  # the scanner's own stack: copying it per character was quadratic
    out = s.rstrip()
    if _in_string_at_end(s):
        out += '"'
    out = re.sub(r",\s*$", "", out)
    if out.endswith(":"):
        out += " null"
    return out + "".join(reversed(stack))


def _literal(text: str) -> Any:
    """A Python literal (single quotes, True/None) that is also valid JSON data; sets are not."""
    try:
        val = ast.literal_eval(text.strip())
        json.dumps(val)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return val


def _from_object(obj: dict[str, Any]) -> Action | None:
    calls = obj.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        return _from_object(calls[0])
    for nk in NAME_KEYS:
        val = obj.get(nk)
        if isinstance(val, dict):  # {"function": {"name": ..., "arguments": ...}}
            inner = _from_object(val)
            if inner is not None:
                return inner
        if isinstance(val, str) and val.strip():
            return Action(name=normalise_name(val), args=_args_of(obj, nk))
    return None


def _args_of(obj: dict[str, Any], name_key: str) -> dict[str, Any]:
    for ak in ARG_KEYS:
        if ak in obj:
            val = obj[ak]
            if isinstance(val, str):
                try:
                    return parse_arguments(val)
                except ActionParseError:
                    return {"_raw": val}  # passed on: the protocol's argument check names the problem
            if isinstance(val, dict):
                return val
            return {} if val is None else {"_raw": val}
    return {k: v for k, v in obj.items() if k != name_key and k not in IGNORED_KEYS and k not in NAME_KEYS}


_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\((.*?)\)\s*(?:$|\n|;)", re.S)


def _from_call(text: str, params: dict[str, list[str]]) -> Action | None:
    """`name(k=v, ...)` or `name(v, ...)` for a known action; `wait` alone."""
    stripped = text.strip().strip("`").strip()
    if normalise_name(stripped) in params and not params[normalise_name(stripped)]:
        return Action(name=normalise_name(stripped))
    for m in _CALL.finditer(text):
        name = normalise_name(m.group(1))
        if name not in params:
            continue
        args = _call_args(m.group(2), params[name])
        if args is not None:
            return Action(name=name, args=args)
    return None


def _call_args(src: str, names: list[str]) -> dict[str, Any] | None:
    try:
        call = ast.parse(f"f({src})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call):
        return None
    try:
        args = {names[i]: ast.literal_eval(a) for i, a in enumerate(call.args) if i < len(names)}
        args.update({kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg})
    except (ValueError, SyntaxError, IndexError):
        return None
    return args
