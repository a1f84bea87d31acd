"""Bounds on everything a model (or any agent) produces, applied where it is recorded.

Model replies are untrusted input: a lone surrogate escape (`"\\ud800"`) is a valid JSON string
that cannot be encoded as UTF-8, a reply nested a few hundred levels deep exceeds the JSON
serialiser's depth, and a multi-megabyte payload bloats every file downstream. `clean` returns
a JSON-safe copy: lone surrogates and other unencodable code points replaced by U+FFFD, strings
cut to `max_chars` (with a marker saying how much was cut), containers deeper than MAX_DEPTH
replaced by a marker string, at most MAX_ITEMS elements per container, non-JSON types turned
into their (bounded) repr. Values that are already safe come back unchanged (same objects).
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 32  # containers nested deeper than this are replaced by a marker
MAX_CHARS = 100_000  # longest string kept (a reply of max_tokens 4096 is ~16k characters)
MAX_ITEMS = 10_000  # elements kept per list or dict
MAX_INT_DIGITS = 1000  # longer integers are kept as a (cut) string: json and float() choke on them
ERROR_CHARS = 1000  # bound for payloads quoted in error events (a rejected 10 MB message)

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INT_LIMIT = 10 ** MAX_INT_DIGITS


def clean_text(s: str, max_chars: int = MAX_CHARS) -> str:
    """A string without lone surrogates, at most max_chars long (plus a marker)."""
    if _SURROGATE.search(s):
        s = _SURROGATE.sub("\ufffd", s)
    if len(s) > max_chars:
        s = s[:max_chars] + f"…[{len(s) - max_chars} characters cut]"
    return s


def clean(x: Any, max_chars: int = MAX_CHARS, depth: int = 0) -> Any:
    """A JSON-safe, bounded copy of x (x itself when nothing needed changing)."""
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, str):
        return clean_text(x, max_chars)
    if isinstance(x, int):
        return x if abs(x) < _INT_LIMIT else clean_text(_big_int(x), max_chars)
    if isinstance(x, float):
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, (list, tuple, dict)) and depth >= MAX_DEPTH:
        return f"[value nested deeper than {MAX_DEPTH} levels removed]"
    if isinstance(x, (list, tuple)):
        items = [clean(v, max_chars, depth + 1) for v in x[:MAX_ITEMS]]
        if len(x) > MAX_ITEMS:
            items.append(f"[{len(x) - MAX_ITEMS} more items cut]")
        same = isinstance(x, list) and len(items) == len(x) and all(a is b for a, b in zip(items, x, strict=True))
        return x if same else items
    if isinstance(x, dict):
        out, changed = {}, False
        for k, v in list(x.items())[:MAX_ITEMS]:
            ck = clean_text(k, 200) if isinstance(k, str) else clean_text(str(k), 200)
            cv = clean(v, max_chars, depth + 1)
            changed = changed or ck is not k or cv is not v
            out[ck] = cv
        if len(x) > MAX_ITEMS:
            out["…"], changed = f"[{len(x) - MAX_ITEMS} more keys cut]", True
        return out if changed else x
    return clean_text(_repr(x), min(max_chars, ERROR_CHARS))


def _big_int(x: int) -> str:
    sign = "-" if x < 0 else ""
    return f"{sign}[integer of about {int(math.log10(abs(x))) + 1} digits]"


def _repr(x: Any) -> str:
    try:
        return repr(x)[:ERROR_CHARS]
    except Exception:  # a hostile __repr__
        return f"<{type(x).__name__}>"
