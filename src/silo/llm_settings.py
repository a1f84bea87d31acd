"""What a model call is configured with and what it returns (silo.llm re-exports every name here).

LLMSettings: one agent's model options (from EpisodeConfig.extra; keys are never stored, only the
names of the variables holding them). Reply: a normalised model response. LLMError: a call that
failed for good (the agent turns it into an episode error, never a wrong answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from silo import local_model

DEFAULT_CONTEXT = 32768
NO_KEY = "sk-no-key"
BUDGET_PREFIX = "run budget reached"
FATAL_PREFIX = "endpoint refused the run"  # in an episode error: the runner stops starting episodes


class LLMError(Exception):
    """A model call that failed for good (retries exhausted or a permanent error). `fatal`: the endpoint
    cannot serve any call of this run (a rejected key, no access, an unknown model, an exhausted quota)."""

    def __init__(self, msg: str, context_exceeded: bool = False, fatal: bool = False):
        super().__init__(msg)
        self.context_exceeded = context_exceeded
        self.fatal = fatal


def is_context_error(exc: BaseException) -> bool:
    """The request was longer than the model's context window (the caller may shrink it and retry)."""
    text = str(exc).lower()
    return type(exc).__name__ == "ContextWindowExceededError" or "exceeds the available context" in text


@dataclass(frozen=True)
class LLMSettings:
    """Per-agent model options (from EpisodeConfig.extra; keys are never stored here, only env names)."""

    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int = 512
    timeout_s: float = 120.0  # deadline of one attempt, whole response included
    retries: int = 10
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_window_s: float = 600.0  # transient failures are retried for up to this long per call
    no_action_retries: int = 2  # replies without a readable action asked again
    breaker_failures: int = 5  # transient failures in a row at one endpoint that pause it
    breaker_pause_s: float = 30.0  # first pause; doubles while the outage lasts (up to 8x)
    outage_max_s: float = 3600.0  # longest one call waits for a paused endpoint
    input_cost_per_token: float | None = None  # prices for models litellm cannot price (USD; or -M)
    output_cost_per_token: float | None = None
    cache: bool = True
    cache_dir: str | None = None
    concurrency: int = 8
    model_args: tuple = ()  # (key, value) pairs passed through to litellm (silo run -M key=value)

    @classmethod
    def from_extra(cls, model: str, extra: dict[str, Any]) -> LLMSettings:
        """Settings from EpisodeConfig.extra; unknown keys are ignored (protocol options share the dict)."""
        keys = set(cls.__dataclass_fields__) - {"model"}
        extra = {**extra, **((extra.get("per_model") or {}).get(model) or {})}  # --api-base MODEL=URL etc.
        opts = {k: v for k, v in extra.items() if k in keys and v is not None}
        if "model_args" in opts:
            opts["model_args"] = tuple(sorted(dict(opts["model_args"]).items()))
            for price in ("input_cost_per_token", "output_cost_per_token"):  # -M input_cost_per_token=...
                if price in dict(opts["model_args"]):
                    opts.setdefault(price, float(dict(opts["model_args"])[price]))
        if local_model.is_local(model):
            opts.pop("api_base", None)  # the embedded server picks its own address
            opts.setdefault("concurrency", local_model.slots(model))
            opts.setdefault("timeout_s", 600.0)  # requests queue inside the server while its slots are busy
        return cls(model=model, **opts)

    def sampling(self, replicate: int) -> dict[str, Any]:
        """Sampling parameters sent with every request (and part of the cache key)."""
        s: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None:
            s["temperature"] = self.temperature
        s.update(dict(self.model_args))
        if local_model.is_local(self.model):
            s["seed"] = 1000 + replicate  # reproducible sampling on the embedded server, distinct per replicate
        return s


@dataclass
class Reply:
    """A normalised model response."""

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments (raw string)}
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    usage_estimated: bool = False  # the server reported no usable token counts: estimated from the text

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not d["usage_estimated"]:
            del d["usage_estimated"]  # cache entries as before for every reply with reported usage
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Reply | None:
        """A Reply from a cache entry, or None when the entry is not one (any field of the wrong type)."""
        if not isinstance(d, dict) or not set(d) <= set(cls.__dataclass_fields__):
            return None
        calls = d.get("tool_calls", [])
        fields_ok = (
            (d.get("content") is None or isinstance(d.get("content"), str))
            and isinstance(calls, list)
            and all(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("id", "name", "arguments"))
                    for c in calls)
            and (d.get("finish_reason") is None or isinstance(d.get("finish_reason"), str))
            and all(_count(d.get(k, 0)) for k in ("input_tokens", "output_tokens", "cached_tokens"))
            and (d.get("cost_usd") is None or _count(d["cost_usd"], float))
            and isinstance(d.get("usage_estimated", False), bool))
        return cls(**d) if fields_ok else None

    def empty(self) -> bool:
        """Neither content nor tool calls (a 200 reply that says nothing: retried, never cached)."""
        return not self.tool_calls and (self.content is None or not str(self.content).strip())

    def usage(self) -> dict[str, Any]:
        """What an attempt record says about the reply (tokens, cost, finish reason, the response)."""
        rec = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
               "cached_tokens": self.cached_tokens, "cost_usd": self.cost_usd, "finish_reason": self.finish_reason,
               "response": {"content": self.content, "tool_calls": self.tool_calls}}
        if self.usage_estimated:
            rec["usage_estimated"] = True
        return rec


def _count(x: Any, kind: type = int) -> bool:
    """A non-negative finite number of the kind (ints are floats too); never a bool."""
    ok = isinstance(x, int) if kind is int else isinstance(x, (int, float))
    if isinstance(x, bool) or not ok:
        return False
    return x >= 0 and (isinstance(x, int) or math.isfinite(x))
