"""Every model call goes through here, over litellm (the only module that imports it, lazily).

One call = up to 1 + retries attempts. litellm and the OpenAI client never retry on their own
(num_retries=0, max_retries=0): we retry transient failures (429, 5xx, timeouts, connection
errors, unparseable bodies, 200 replies with no content) with jittered exponential backoff,
honouring Retry-After, until `retries` or `retry_window_s` (minutes by default) run out, so every
attempt is reported to the caller (`on_attempt`) and logged. When retries are exhausted, or the
failure is permanent (401, 400, ...), `LLMError` is raised; the agent turns it into an episode
error, never a wrong answer.

Reliability, per endpoint (model @ api base) and event loop:
- a circuit breaker: after `breaker_failures` transient failures in a row every call to the
  endpoint pauses (breaker_pause_s, doubling), so an outage pauses the sweep instead of turning
  every episode in flight into an error; a call waits at most `outage_max_s` for it;
- a deadline per attempt over the whole response (asyncio.wait_for: a body trickled byte by byte
  cannot outlast timeout_s);
- a reply the caller cannot read an action from (`accept`) is asked again up to
  `no_action_retries` times; only replies with content, tool calls and an accepted action are cached;
- run budgets (`use_budget`) are checked before and charged after every call.
API keys are read from the environment variable the run names, at call time, and never stored
or logged (silo.redact filters every string that reaches disk).
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import logging
import math
import os
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from silo import local_model, redact
from silo.llm_cache import CallCache, cache_key
from silo.sanitize import clean_text

log = logging.getLogger(__name__)

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
DEFAULT_CONTEXT = 32768
NO_KEY = "sk-no-key"
BUDGET_PREFIX = "run budget reached"


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


class Breaker:
    """Circuit breaker of one endpoint: consecutive transient failures open it for a growing pause."""

    def __init__(self):
        self.failures = 0
        self.opened = 0
        self.open_until = 0.0

    async def wait(self) -> float:
        """Sleep while the breaker is open; returns the seconds waited."""
        waited = 0.0
        while (left := self.open_until - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 5.0))
            waited += min(left, 5.0)
        return waited

    def failure(self, s: LLMSettings) -> None:
        self.failures += 1
        if self.failures >= (1 if self.opened else s.breaker_failures):  # once open, one more failure re-opens
            pause = min(s.breaker_pause_s * 2 ** self.opened, 8 * s.breaker_pause_s)
            self.open_until = max(self.open_until, time.monotonic() + pause)
            self.opened += 1
            self.failures = 0
            log.warning("endpoint failing repeatedly: pausing its calls for %.1fs (circuit breaker)", pause)

    def is_open(self) -> bool:
        return self.open_until > time.monotonic()

    def success(self) -> None:
        self.failures = self.opened = 0


_BREAKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _breaker(endpoint: str) -> Breaker:
    return _BREAKERS.setdefault(asyncio.get_running_loop(), {}).setdefault(endpoint, Breaker())


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("silo_budget", default=None)


def use_budget(budget: Any) -> contextvars.Token:
    """Charge every model call of this context to `budget` (an object with exceeded() and charge())."""
    return _BUDGET.set(budget)


def release_budget(token: contextvars.Token) -> None:
    _BUDGET.reset(token)


def _check_budget() -> None:
    b = _BUDGET.get()
    why = b.exceeded() if b is not None else None
    if why:
        raise LLMError(f"{BUDGET_PREFIX}: {why}")


def _charge(r: Reply) -> None:
    b = _BUDGET.get()
    if b is not None:
        b.charge(r.input_tokens, r.output_tokens, r.cost_usd)


def retry_after(exc: BaseException) -> float | None:
    """Seconds a server asked us to wait (Retry-After / retry-after-ms headers), if any."""
    sources = [getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
               getattr(getattr(exc, "response", None), "headers", None)]
    for h in sources:
        try:
            ms = h.get("retry-after-ms") if h else None
            raw = h.get("retry-after") if h else None
        except Exception:
            continue
        try:
            if ms is not None:
                return max(0.0, float(ms) / 1000)
            if raw is not None:
                return max(0.0, float(raw))
        except ValueError:
            when = email.utils.parsedate_to_datetime(raw) if raw else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return None


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
    """A 200 response without a usable choice, or with neither content nor tool calls: transient."""


class NoAction(Exception):
    """A reply from which the caller could not read an action (asked again, up to no_action_retries)."""


class Client:
    """Makes model calls for one agent: resolution, cache, concurrency, retries, accounting."""

    def __init__(self, settings: LLMSettings, replicate: int = 0):
        self.s = settings
        self.replicate = replicate
        self.cache = CallCache(settings.cache_dir) if settings.cache else None

    def _endpoint(self) -> tuple[str, str | None, str | None]:
        """(litellm model, api base, api key) for this call. The key comes only from the variable the
        run names; a server given by --api-base without one gets a dummy key (never OPENAI_API_KEY)."""
        if local_model.is_local(self.s.model):
            return local_model.resolve(self.s.model)
        key = None
        if self.s.api_key_env:
            redact.register(self.s.api_key_env)
            key = os.environ.get(self.s.api_key_env)
            if not key:
                raise LLMError(f"environment variable {self.s.api_key_env} (--api-key-env) is not set")
        elif self.s.api_base:
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
                       on_attempt: Callable[[dict[str, Any]], None] | None = None,
                       accept: Callable[[Reply], str | None] | None = None) -> Reply:
        """One model call with cache, retries and the endpoint's breaker; each attempt is reported to
        on_attempt. `accept(reply)` returns why no action can be read from a reply (None: fine)."""
        report = on_attempt or (lambda rec: None)
        check = accept or (lambda r: None)
        fields = self.key_fields(messages, tools, response_format)
        key = cache_key(fields) if self.cache is not None else None
        _check_budget()
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            try:
                reply = Reply(**hit)
            except TypeError:
                reply = None
            if reply is not None and not _empty(reply) and check(reply) is None:  # old entries may hold empty replies
                report({"attempt": 1, "cached": True, "latency_s": 0.0, "error": None, **_usage(reply)})
                _charge(reply)
                return reply
        return await self._retrying(messages, tools, response_format, report, check, key, fields)

    async def _retrying(self, messages, tools, response_format, report, check, key, fields) -> Reply:
        breaker = _breaker(self._endpoint_name())
        start, paused, attempt, unread = time.monotonic(), 0.0, 0, 0
        while True:
            paused += await breaker.wait()
            if paused > self.s.outage_max_s:
                raise LLMError(f"endpoint paused for {paused:.0f}s by repeated failures (outage_max_s)")
            _check_budget()
            attempt += 1
            t0 = time.perf_counter()
            try:
                reply = await self._attempt(messages, tools, response_format)
                if _empty(reply):
                    _charge(reply)
                    raise MalformedResponse("reply with neither content nor tool calls")
            except Exception as e:
                transient = is_transient(e)
                err = self._scrub(f"{type(e).__name__}: {e}")[:2000]
                report({"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                        "error": err, "transient": transient})
                if transient:
                    breaker.failure(self.s)
                    if breaker.is_open():
                        continue  # an outage: wait for the endpoint (outage_max_s) instead of burning the call
                elapsed = time.monotonic() - start - paused
                if not transient or attempt > self.s.retries or elapsed >= self.s.retry_window_s:
                    msg = f"model call failed after {attempt} attempt(s): {err}"
                    raise LLMError(msg, is_context_error(e)) from None
                delay = self._delay(attempt, retry_after(e), self.s.retry_window_s - elapsed)
                log.warning("model %s attempt %d failed (%s); retrying in %.1fs", self.s.model, attempt, err, delay)
                await asyncio.sleep(delay)
                continue
            breaker.success()
            _charge(reply)
            why = check(reply)
            rec = {"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                   "error": None, **_usage(reply)}
            if why is not None and unread < self.s.no_action_retries:
                unread += 1
                report({**rec, "error": self._scrub(f"NoAction: {why}")[:2000], "transient": True})
                continue  # asked again at once: the server answered, it is the reply that is unusable
            report(rec)
            if self.cache is not None and why is None:
                self.cache.put(key, fields, reply.to_dict())
            return reply

    def _delay(self, attempt: int, asked: float | None, window_left: float) -> float:
        """Retry-After if the server sent one, else jittered exponential backoff; never past the window."""
        if asked is not None:
            delay = asked
        else:
            delay = min(self.s.backoff_max_s, self.s.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
        return max(0.0, min(delay, max(window_left, 0.0)))

    def _endpoint_name(self) -> str:
        return f"{self.s.model}@{'embedded' if local_model.is_local(self.s.model) else self.s.api_base}"

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
            # the deadline covers the whole response: a body trickled byte by byte cannot outlast it
            resp = await asyncio.wait_for(litellm.acompletion(**kwargs), self.s.timeout_s + 0.5)
        reply = _reply(resp, litellm, priced=not local_model.is_local(self.s.model))
        if reply.cost_usd is None and self.s.input_cost_per_token is not None:
            reply.cost_usd = (reply.input_tokens * self.s.input_cost_per_token
                              + reply.output_tokens * (self.s.output_cost_per_token or 0.0))
        return reply

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.s.api_key_env) if self.s.api_key_env else None
        text = text.replace(key, "***") if key else text
        return redact.redact(text)


def _empty(r: Reply) -> bool:
    return not r.tool_calls and (r.content is None or not str(r.content).strip())


def is_priced(model: str, settings: LLMSettings | None = None) -> bool:
    """Whether a cost ceiling can be enforced for the model: litellm prices it, the run gives prices,
    or it is the embedded model (free)."""
    if local_model.is_local(model) or (settings and settings.input_cost_per_token is not None):
        return True
    try:
        info = _litellm().get_model_info(model)
    except Exception:
        return False
    cost = info.get("input_cost_per_token")
    return cost is not None and math.isfinite(float(cost))


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
    # replies are untrusted: lone surrogates would fail the next request's encoding and every write
    calls = [{"id": clean_text(str(tc.id or f"call_{i}"), 200), "name": clean_text(str(tc.function.name or ""), 200),
              "arguments": clean_text(str(tc.function.arguments or ""))}
             for i, tc in enumerate(getattr(msg, "tool_calls", None) or [])]
    usage = getattr(resp, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    cost = None
    if priced:
        try:
            cost = float(litellm.completion_cost(completion_response=resp))
        except Exception:  # unmapped models have no price: record None, not zero
            cost = None
    content = getattr(msg, "content", None)
    content = clean_text(str(content)) if content is not None else None
    return Reply(content=content, tool_calls=calls, finish_reason=choice.finish_reason,
                 input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                 output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                 cached_tokens=int(getattr(details, "cached_tokens", 0) or 0), cost_usd=cost)
