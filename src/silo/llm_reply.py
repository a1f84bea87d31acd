"""A litellm response read into a Reply (silo.llm calls it after every attempt): replies are untrusted.

Content and tool calls are bounded and made encodable (silo.sanitize); a response without a usable
choice is a MalformedResponse (retried like any unreadable body). Token counts a server reports as
missing, zero, negative or not a number are estimated from the text (4 characters a token; the
attempt record says `usage_estimated`), so such a server can run past neither --max-total-tokens nor
--max-cost, and a cost is never negative or NaN (a NaN in the run's total would never reach a ceiling).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from silo.llm_retry import MalformedResponse
from silo.llm_settings import Reply
from silo.sanitize import clean_text


def read_reply(resp: Any, litellm: Any, priced: bool, sent_chars: Callable[[], int] = lambda: 0) -> Reply:
    """A Reply from litellm's response; `sent_chars()`: the request's size, to estimate usage it lacks."""
    try:
        choice = resp.choices[0]
        msg = choice.message
        # replies are untrusted: lone surrogates would fail the next request's encoding and every write
        calls = [{"id": clean_text(str(tc.id or f"call_{i}"), 200),
                  "name": clean_text(str(tc.function.name or ""), 200),
                  "arguments": clean_text(str(tc.function.arguments or ""))}
                 for i, tc in enumerate(getattr(msg, "tool_calls", None) or [])]
    except (AttributeError, IndexError, TypeError) as e:
        raise MalformedResponse(f"response without a usable choice: {str(resp)[:200]}") from e
    content = getattr(msg, "content", None)
    content = clean_text(str(content)) if content is not None else None
    usage = getattr(resp, "usage", None)
    n_in, n_out = _tokens(getattr(usage, "prompt_tokens", None)), _tokens(getattr(usage, "completion_tokens", None))
    out_chars = len(content or "") + sum(len(c["name"]) + len(c["arguments"]) for c in calls)
    # missing, zero, negative or non-numeric counts would charge nothing to the run budget: estimated instead
    # (4 characters a token), so a server that reports no usage cannot run past --max-total-tokens or --max-cost
    est_in, est_out = not n_in, not n_out and out_chars > 0
    if est_in:
        n_in = max(1, sent_chars() // 4)
    if est_out:
        n_out = max(1, out_chars // 4)
    if (est_in or est_out) and priced:
        try:  # litellm prices the response's usage object: give it the counts charged
            resp.usage = litellm.Usage(prompt_tokens=n_in, completion_tokens=n_out or 0,
                                       total_tokens=n_in + (n_out or 0))
        except Exception:
            pass
    cached = _tokens(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)) or 0
    return Reply(content=content, tool_calls=calls, finish_reason=choice.finish_reason,
                 input_tokens=n_in, output_tokens=n_out or 0, cached_tokens=min(cached, n_in),
                 cost_usd=_price(resp, litellm) if priced else None, usage_estimated=est_in or est_out)


def _tokens(x: Any) -> int | None:
    """A reported token count, or None when it is missing, not a number, negative or not finite."""
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(f) if math.isfinite(f) and f >= 0 else None


def _price(resp: Any, litellm: Any) -> float | None:
    """litellm's price of a response; None when it has none (unmapped models), is negative or not finite."""
    try:
        cost = float(litellm.completion_cost(completion_response=resp))
    except Exception:  # unmapped models have no price: record None, not zero
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def request_chars(messages: list[dict], tools: list[dict] | None) -> int:
    """Characters of a request's messages and tools (for a usage estimate)."""
    return sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or "")) for m in messages) + (
        len(json.dumps(tools, default=str)) if tools else 0)
