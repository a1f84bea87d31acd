"""Text for the chatty team: JSON values written the ways chat models write them, and content that carries nothing.

render()   one JSON value as JSON (maybe in a code fence), prose, a markdown table or CSV; every style keeps the
           whole value (a reader can rebuild it), so a raw shard rendered by any style is pasted in full
corrupt()  a wrong version of a value: every number moved, every flag flipped, so no part of it is right
sublist()  a shard with a fixed, per-instance withheld part removed (see Semantics.withheld in chatty.py)
decoys     public facts (value ranges, ids, round numbers, parameters): numbers that carry no shard
"""

from __future__ import annotations

import json
import random
from typing import Any

STYLES = ("json", "fence", "prose", "markdown", "csv")


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


def _num(x: Any, thousands: bool) -> str:
    """A scalar as text; with `thousands`, numbers of 1000 and more get separators (1,234.5)."""
    if isinstance(x, bool) or x is None:
        return json.dumps(x)
    if isinstance(x, int):
        return f"{x:,}" if thousands else str(x)
    if isinstance(x, float):
        text = repr(x)
        if thousands and abs(x) >= 1000 and "e" not in text:
            whole, _, frac = text.partition(".")
            return f"{int(whole):,}" + (f".{frac}" if frac else "")
        return text
    return str(x)


def _cell(x: Any) -> str:
    return _num(x, False) if _scalar(x) else json.dumps(x)


def render(value: Any, style: str, rng: random.Random) -> str:
    """`value` written in one style; dict keys may be listed in any order (a tally in another order)."""
    if isinstance(value, dict) and rng.random() < 0.3:
        keys = list(value)
        rng.shuffle(keys)
        value = {k: value[k] for k in keys}
    if style == "json":
        return json.dumps(value, separators=(",", ":") if rng.random() < 0.5 else None)
    if style == "fence":
        return "```json\n" + json.dumps(value, indent=2 if rng.random() < 0.3 else None) + "\n```"
    if style == "prose":
        return _prose(value, rng.random() < 0.3)
    rows = _rows(value, rng)
    if rows is None:
        return json.dumps(value)
    head, body = rows
    if style == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    return "\n".join([",".join(head)] + [",".join(_csv(c) for c in r) for r in body])


def _csv(cell: str) -> str:
    return f'"{cell}"' if ("," in cell or '"' in cell) and not cell.startswith('"') else cell


def _prose(value: Any, thousands: bool) -> str:
    if _scalar(value):
        return _num(value, thousands)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_prose(v, thousands) if _scalar(v) else json.dumps(v)}" for k, v in value.items())
    if isinstance(value, list) and all(_scalar(v) for v in value):
        parts = [_num(v, thousands) for v in value]
        sep = "; " if thousands else ", "
        return parts[0] if len(parts) == 1 else sep.join(parts[:-1]) + " and " + parts[-1] if parts else "nothing"
    return "; ".join(json.dumps(v) for v in value)


def _rows(value: Any, rng: random.Random) -> tuple[list[str], list[list[str]]] | None:
    """A table (header, rows) for a value, or None when it is not table-shaped."""
    if isinstance(value, str):
        return ["position", "char"], [[str(k), c] for k, c in enumerate(value)]
    if isinstance(value, dict):
        return ["key", "value"], [[str(k), _cell(v)] for k, v in value.items()]
    if not isinstance(value, list) or not value:
        return None
    if all(_scalar(v) for v in value):
        if rng.random() < 0.5:
            return ["#", "value"], [[str(k), _cell(v)] for k, v in enumerate(value)]
        return ["value"], [[_cell(v)] for v in value]
    if all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        return keys, [[_cell(v.get(k)) for k in keys] for v in value]
    if all(isinstance(v, list) for v in value):
        width = max(len(v) for v in value)
        return [f"c{k}" for k in range(width)], [[_cell(x) for x in v] for v in value]
    return None


def corrupt(value: Any, rng: random.Random, words: tuple[str, ...] = ()) -> Any:
    """A version of `value` in which every part is wrong: numbers moved, flags flipped, words swapped."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice((-1, 1)) * rng.randint(1, 9)
    if isinstance(value, float):
        moved = value + rng.choice((-1, 1)) * (abs(value) * rng.uniform(0.05, 0.3) + 0.05)
        return round(moved, 6)
    if isinstance(value, str):
        others = [w for w in words if w.lower() != value.lower()]
        if others:
            return rng.choice(others)
        if not value:
            return "x"
        # both ends and about half of the characters replaced, each by a different character
        pool = sorted(set(value) | set("abcdefghijklmnopqrstuvwxyz"))
        swap = {0, len(value) - 1} | {k for k in range(len(value)) if rng.random() < 0.5}
        return "".join(rng.choice([c for c in pool if c != ch]) if k in swap else ch for k, ch in enumerate(value))
    if isinstance(value, list):
        if value and all(isinstance(v, int) and not isinstance(v, bool) and v in (0, 1) for v in value):
            # a bit row: flip both ends and a random half of the rest, so neither half survives intact
            flip = {0, len(value) - 1} | {k for k in range(len(value)) if rng.random() < 0.5}
            return [1 - v if k in flip else v for k, v in enumerate(value)]
        return [corrupt(v, rng, words) for v in value]
    if isinstance(value, dict):
        return {k: corrupt(v, rng, words) for k, v in value.items()}
    return value


def drop(data: Any, withheld: frozenset[int]) -> Any:
    """`data` without the items at `withheld` positions (a string's characters, a list's items, or the
    longest list inside a dict)."""
    if isinstance(data, str):
        return "".join(c for k, c in enumerate(data) if k not in withheld)
    if isinstance(data, list):
        return [v for k, v in enumerate(data) if k not in withheld]
    if isinstance(data, dict):
        key = max((k for k, v in data.items() if isinstance(v, list)), key=lambda k: len(data[k]), default=None)
        if key is None:
            return None
        return {**data, key: drop(data[key], withheld)}
    return None


def items_of(data: Any) -> int:
    """How many droppable items `data` has (see drop)."""
    if isinstance(data, (str, list)):
        return len(data)
    if isinstance(data, dict):
        return max((len(v) for v in data.values() if isinstance(v, list)), default=0)
    return 0


def decoys(params: dict, n: int, me: int, rnd: int, size: int) -> list[str]:
    """Messages made of public facts only: they carry no shard whatever numbers they contain."""
    out = [f"We're in round {rnd} now.", f"Agents here: {', '.join(map(str, range(n)))}.",
           f"I hold {size} items, agent {me} reporting.", f"Round {rnd}: still collecting, {n} of us in total."]
    for key in ("values_below", "range_end", "n_nodes"):
        top = params.get(key)
        if isinstance(top, int) and 0 < top <= 500:
            what = "node ids" if key == "n_nodes" else "possible values"
            out.append(f"For reference, the {what} are: {', '.join(map(str, range(top)))}.")
    for key in ("vocabulary", "candidates"):
        if isinstance(params.get(key), list):
            out.append(f"The {key} are {', '.join(map(str, params[key]))}.")
    text = json.dumps(params)
    if params and len(text) < 3000:
        out.append(f"Public parameters: {text}")
    return out


HELLOS = ("Hi everyone, agent {me} here.", "Hello! I'm agent {me}, ready to work on this.",
          "hey all - agent {me} checking in", "Good to meet you all. Agent {me} here; let's coordinate.")
ACKS = ("Thanks, agent {o}!", "Got it, thanks.", "Received, thank you agent {o}.", "ok, noted.",
        "Great, that helps.")
QUESTIONS = ("Agent {o}, could you send me your data?", "Does anyone have the final answer yet?",
             "Who is collecting the results?", "Can someone confirm the total?", "Agent {o}, what did you get?")
