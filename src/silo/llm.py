"""Every model call goes through here, over litellm (the only module that imports it, lazily).

One call = up to 1 + retries attempts. litellm and the OpenAI client never retry on their own
(num_retries=0, max_retries=0): we retry transient failures (429, 5xx, timeouts, connection
errors, unparseable bodies) with capped exponential backoff, so every attempt is reported to
the caller (`on_attempt`) and logged. When retries are exhausted, or the failure is permanent
(401, 400, ...), `LLMError` is raised; the agent turns it into an episode error, never a wrong
answer. API keys are read from the environment at call time and never stored or logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from silo import local_model
from silo.llm_cache import CallCache, cache_key

log = logging.getLogger(__name__)

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
DEFAULT_CONTEXT = 32768
NO_KEY = "sk-no-key"


class LLMError(Exception):
    """A model call that failed for good (retries exhausted or a permanent error)."""

    def __init__(self, msg: str, context_exceeded: bool = False):
        super().__init__(msg)
        self.context_exceeded = context_exceeded


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
    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    cache: bool = True
    cache_dir: str | None = None
    concurrency: int = 8
    model_args: tuple = ()  # (key, value) pairs passed through to litellm (silo run -M key=value)

    @classmethod
    def from_extra(cls, model: str, extra: dict[str, Any]) -> LLMSettings:
        """Settings from EpisodeConfig.extra; unknown keys are ignored (protocol options share the dict)."""
        keys = {"api_base", "api_key_env", "temperature", "max_tokens", "timeout_s", "retries", "backoff_s",
                "backoff_max_s", "cache", "cache_dir", "concurrency", "model_args"}
        extra = {**extra, **((extra.get("per_model") or {}).get(model) or {})}  # --api-base MODEL=URL etc.
        opts = {k: v for k, v in extra.items() if k in keys and v is not None}
        if "model_args" in opts:
            opts["model_args"] = tuple(sorted(dict(opts["model_args"]).items()))
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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else it fetches a price map online
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def supports_tools(model: str) -> bool:
    """Whether litellm knows the model supports native tool calling (the embedded model does not)."""
    if local_model.is_local(model):
        return False
    try:
        return bool(_litellm().supports_function_calling(model=model))
    except Exception:  # unknown model strings raise; assume no tools and use the JSON action format
        return False


def context_window(model: str) -> int:
    """Input tokens the model accepts (litellm's model map; a conservative default if unknown)."""
    if local_model.is_local(model):
        return local_model.context_window(model)
    try:
        info = _litellm().get_model_info(model)
        return int(info.get("max_input_tokens") or info.get("max_tokens") or DEFAULT_CONTEXT)
    except Exception:
        return DEFAULT_CONTEXT


_SEMAPHORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _semaphore(endpoint: str, limit: int) -> asyncio.Semaphore:
    # one semaphore per event loop and endpoint: asyncio primitives must not cross loops
    per_loop = _SEMAPHORES.setdefault(asyncio.get_running_loop(), {})
    if endpoint not in per_loop:
        per_loop[endpoint] = asyncio.Semaphore(max(1, limit))
    return per_loop[endpoint]


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts, connection errors and unparseable bodies are retried."""
    if isinstance(exc, (asyncio.TimeoutError, ConnectionError)):
        return True
    if "Missing credentials" in str(exc):  # litellm reports a missing key as a 500
        return False
    status = getattr(exc, "status_code", None)
    if status in TRANSIENT_STATUS:
        return True
    name = type(exc).__name__
    return name in {"Timeout", "APITimeoutError", "APIConnectionError", "ServiceUnavailableError",
                    "InternalServerError", "BadGatewayError", "RateLimitError", "MalformedResponse"}


class MalformedResponse(Exception):
    """A 200 response without a usable choice: treated as transient."""


class Client:
    """Makes model calls for one agent: resolution, cache, concurrency, retries, accounting."""

    def __init__(self, settings: LLMSettings, replicate: int = 0):
        self.s = settings
        self.replicate = replicate
        self.cache = CallCache(settings.cache_dir) if settings.cache else None

    def _endpoint(self) -> tuple[str, str | None, str | None]:
        """(litellm model, api base, api key) for this call."""
        if local_model.is_local(self.s.model):
            return local_model.resolve(self.s.model)
        key = None
        if self.s.api_key_env:
            key = os.environ.get(self.s.api_key_env)
            if not key:
                raise LLMError(f"environment variable {self.s.api_key_env} (--api-key-env) is not set")
        elif self.s.api_base and not os.environ.get("OPENAI_API_KEY"):
            key = NO_KEY  # local OpenAI-compatible servers (vLLM, llama.cpp, Ollama) need none, the client wants one
        return self.s.model, self.s.api_base, key

    def key_fields(self, messages: list[dict], tools: list[dict] | None, response_format: dict | None) -> dict:
        """What identifies a request in the cache (the embedded server's address changes per start)."""
        base = "embedded" if local_model.is_local(self.s.model) else self.s.api_base
        return {"model": self.s.model, "api_base": base, "messages": messages, "tools": tools,
                "response_format": response_format, "sampling": self.s.sampling(self.replicate),
                "replicate": self.replicate}

    async def complete(self, messages: list[dict], tools: list[dict] | None = None,
                       response_format: dict | None = None,
                       on_attempt: Callable[[dict[str, Any]], None] | None = None) -> Reply:
        """One model call with cache and retries; each attempt is reported to on_attempt."""
        report = on_attempt or (lambda rec: None)
        fields = self.key_fields(messages, tools, response_format)
        key = cache_key(fields) if self.cache is not None else None
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            reply = Reply(**hit)
            report({"attempt": 1, "cached": True, "latency_s": 0.0, "error": None, **_usage(reply)})
            return reply
        for attempt in range(1, self.s.retries + 2):
            t0 = time.perf_counter()
            try:
                reply = await self._attempt(messages, tools, response_format)
            except Exception as e:
                transient = is_transient(e)
                err = self._scrub(f"{type(e).__name__}: {e}")
                report({"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                        "error": err, "transient": transient})
                if not transient or attempt > self.s.retries:
                    msg = f"model call failed after {attempt} attempt(s): {err}"
                    raise LLMError(msg, is_context_error(e)) from None
                delay = min(self.s.backoff_max_s, self.s.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
                log.warning("model %s attempt %d failed (%s); retrying in %.1fs", self.s.model, attempt, err, delay)
                await asyncio.sleep(delay)
                continue
            report({"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                    "error": None, **_usage(reply)})
            if self.cache is not None:
                self.cache.put(key, fields, reply.to_dict())
            return reply
        raise AssertionError("unreachable")

    async def _attempt(self, messages, tools, response_format) -> Reply:
        if local_model.is_local(self.s.model):  # first use starts the server; keep the loop responsive
            await asyncio.to_thread(local_model.resolve, self.s.model)
        model, base, key = self._endpoint()
        litellm = _litellm()
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "timeout": self.s.timeout_s,
                                  "num_retries": 0, "max_retries": 0, **self.s.sampling(self.replicate)}
        if base:
            kwargs["api_base"] = base
        if key:
            kwargs["api_key"] = key
        if tools:
            kwargs["tools"] = tools
        if response_format and local_model.is_local(self.s.model):
            kwargs["extra_body"] = {"grammar": local_model.grammar(response_format)}
        elif response_format:
            kwargs["response_format"] = response_format
        async with _semaphore(f"{model}@{base}", self.s.concurrency):
            resp = await litellm.acompletion(**kwargs)
        return _reply(resp, litellm, priced=not local_model.is_local(self.s.model))

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.s.api_key_env) if self.s.api_key_env else None
        return text.replace(key, "***") if key else text


def _usage(r: Reply) -> dict[str, Any]:
    return {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens,
            "cost_usd": r.cost_usd, "finish_reason": r.finish_reason,
            "response": {"content": r.content, "tool_calls": r.tool_calls}}


def _reply(resp: Any, litellm: Any, priced: bool) -> Reply:
    try:
        choice = resp.choices[0]
        msg = choice.message
    except (AttributeError, IndexError, TypeError) as e:
        raise MalformedResponse(f"response without a choice: {str(resp)[:200]}") from e
    calls = [{"id": tc.id or f"call_{i}", "name": tc.function.name or "", "arguments": tc.function.arguments or ""}
             for i, tc in enumerate(getattr(msg, "tool_calls", None) or [])]
    usage = getattr(resp, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    cost = None
    if priced:
        try:
            cost = float(litellm.completion_cost(completion_response=resp))
        except Exception:  # unmapped models have no price: record None, not zero
            cost = None
    return Reply(content=getattr(msg, "content", None), tool_calls=calls, finish_reason=choice.finish_reason,
                 input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                 output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                 cached_tokens=int(getattr(details, "cached_tokens", 0) or 0), cost_usd=cost)
