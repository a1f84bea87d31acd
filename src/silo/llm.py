"""Every model call goes through here, over litellm (the only module that imports it, lazily).

One call = up to 1 + retries attempts. litellm and the OpenAI client never retry on their own
(num_retries=0, max_retries=0): we retry transient failures (429, 5xx, timeouts, connection
errors, unparseable bodies, 200 replies with no content) with jittered exponential backoff,
honouring Retry-After, until `retries` or `retry_window_s` (minutes by default) run out, so every
attempt is reported to the caller (`on_attempt`) and logged. When retries are exhausted, or the
failure is permanent (401, 400, ...), `LLMError` is raised; the agent turns it into an episode
error, never a wrong answer. A failure no call of the run can escape (a rejected key, no access,
an unknown model, an exhausted quota: llm_retry.fatal_reason) is `fatal`: never retried, later
calls to the endpoint fail at once without a request, and the runner starts no further episode.

Reliability, per endpoint (model @ api base) and event loop (silo.llm_retry):
- a circuit breaker: after `breaker_failures` transient failures in a row every call to the
  endpoint pauses (breaker_pause_s, doubling), so an outage pauses the sweep instead of turning
  every episode in flight into an error; a call waits at most `outage_max_s` for it;
- a deadline per attempt over the whole response (asyncio.wait_for: a body trickled byte by byte
  cannot outlast timeout_s);
- a reply the caller cannot read an action from (`accept`) is asked again up to
  `no_action_retries` times; only replies with content, tool calls and an accepted action are cached;
- run budgets (`use_budget`) are checked before and charged after every call.
litellm does no logging of our calls unless litellm callbacks are set (its is_internal_call flag: we
log every attempt) and, for the
embedded (free) model, does not price the reply (docs/benchmarks.md, LLM section: CPU per request).
API keys are read from the environment variable the run names, at call time, and never stored
or logged (silo.redact filters every string that reaches disk). Settings, replies and errors are
in silo.llm_settings (a response is read into a Reply by silo.llm_reply: bounded content, usage a server
leaves out or garbles estimated, never a negative cost); every public name of both is importable from here.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

from silo import local_model, redact
from silo.llm_cache import CallCache, cache_key, canonical
from silo.llm_reply import read_reply, request_chars
from silo.llm_retry import (
    TRANSIENT_STATUS,
    Breaker,
    MalformedResponse,
    NoAction,
    backoff,
    breaker,
    charge,
    check_budget,
    fatal_reason,
    is_transient,
    release_budget,
    retry_after,
    semaphore,
    share_fatal,
    shared_fatal,
    use_budget,
)
from silo.llm_settings import (
    BUDGET_PREFIX,
    DEFAULT_CONTEXT,
    FATAL_PREFIX,
    NO_KEY,
    LLMError,
    LLMSettings,
    Reply,
    is_context_error,
)

__all__ = ["BUDGET_PREFIX", "DEFAULT_CONTEXT", "FATAL_PREFIX", "NO_KEY", "TRANSIENT_STATUS", "Breaker", "Client",
           "LLMError", "LLMSettings", "MalformedResponse", "NoAction", "Reply", "context_window", "fatal_reason",
           "is_context_error", "is_priced", "is_transient", "release_budget", "retry_after", "supports_tools",
           "use_budget"]

log = logging.getLogger(__name__)
LOCAL_PROVIDER = "hosted_vllm"  # litellm provider the embedded llama.cpp server (OpenAI-compatible) is called as


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else it fetches a price map online
    import litellm

    litellm.suppress_debug_info = True
    _skip_pricing_of_unpriced(litellm)
    return litellm


_UNPRICED: contextvars.ContextVar = contextvars.ContextVar("silo_unpriced", default=False)


def _skip_pricing_of_unpriced(litellm) -> None:
    """After every call litellm prices the reply into its hidden params (litellm.utils.
    update_response_metadata, which its wrapper looks up by name at each call: ~1 ms of CPU, model-map
    lookups). The embedded model is free and nothing reads those params for it, so for its calls
    (_UNPRICED set) the step is skipped; every other call keeps it (completion_cost reads them)."""
    utils = litellm.utils
    plain = utils.update_response_metadata
    if getattr(plain, "silo_wrapped", False):
        return

    def update_response_metadata(*args, **kwargs):
        if not _UNPRICED.get():
            plain(*args, **kwargs)

    update_response_metadata.silo_wrapped = True
    utils.update_response_metadata = update_response_metadata


_CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                   "_async_failure_callback", "input_callback")


def _unlogged(litellm) -> contextvars.ContextVar | None:
    """litellm's flag for a call it must not log (its own internal calls use it): no success or
    failure logging object is built, no logging task queued, no second cost calculation for it.
    silo logs every attempt itself (on_attempt); 1.2 ms of CPU a call. None when the user has set litellm
    callbacks (e.g. a plugin adding an observability logger): then our calls are logged as usual."""
    if any(getattr(litellm, name, None) for name in _CALLBACK_LISTS):
        return None
    from litellm._internal_context import is_internal_call

    return is_internal_call


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


class Client:
    """Makes model calls for one agent: resolution, cache, concurrency, retries, accounting."""

    def __init__(self, settings: LLMSettings, replicate: int = 0):
        self.s = settings
        self.replicate = replicate
        self.cache = CallCache(settings.cache_dir) if settings.cache else None
        self._last_grammar: tuple[dict, str] | None = None
        self._local = local_model.is_local(settings.model)
        self._server: local_model.LocalServer | None = None  # the embedded model's server, looked up once

    def _endpoint(self) -> tuple[str, str | None, str | None]:
        """(litellm model, api base, api key) for this call. The key comes only from the variable the
        run names; a server given by --api-base without one gets a dummy key (never OPENAI_API_KEY)."""
        if self._local:
            srv = self._embedded()
            model, base, key = srv.name, srv.start(), local_model.DUMMY_KEY  # = local_model.resolve(), once looked up
            # litellm's provider for OpenAI-compatible self-hosted servers: the same request body, but sent
            # by litellm's own HTTP handler, not the OpenAI SDK, whose per-call validation of every
            # message is most of litellm's CPU time per request (see the LLM section of docs/benchmarks.md)
            return f"{LOCAL_PROVIDER}/{model.split('/', 1)[-1]}", base, key
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
        fields = self.key_fields(messages, tools, response_format) if self.cache is not None else None
        blob = canonical(fields) if fields is not None else None
        key = cache_key(fields, blob) if fields is not None else None
        check_budget()
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            reply = Reply.from_dict(hit)  # None for an entry of the wrong shape: a miss
            if reply is not None and not reply.empty() and check(reply) is None:  # old entries may hold empty replies
                report({"attempt": 1, "cached": True, "latency_s": 0.0, "error": None, **reply.usage()})
                charge(reply)
                return reply
        return await self._retrying(messages, tools, response_format, report, check, key, (fields, blob))

    async def _retrying(self, messages, tools, response_format, report, check, key, keyed) -> Reply:
        brk = breaker(self._endpoint_name())
        start, paused, attempt, unread = time.monotonic(), 0.0, 0, 0
        while True:
            paused += await brk.wait()
            if paused > self.s.outage_max_s:
                raise LLMError(f"endpoint paused for {paused:.0f}s by repeated failures (outage_max_s)")
            check_budget()
            brk.fatal = brk.fatal or shared_fatal(self._endpoint_name())  # (learnt by another Ray worker)
            if brk.fatal:  # an earlier call learnt that no call can succeed here: no request, no retry
                raise LLMError(brk.fatal, fatal=True)
            attempt += 1
            t0 = time.perf_counter()
            try:
                reply = await self._attempt(messages, tools, response_format)
                if reply.empty():
                    charge(reply)
                    raise MalformedResponse("reply with neither content nor tool calls")
            except Exception as e:
                transient = is_transient(e)
                err = self._scrub(f"{type(e).__name__}: {e}")[:2000]
                report({"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                        "error": err, "transient": transient})
                if (why := fatal_reason(e)) is not None:
                    brk.fatal = self._fatal(why, err)
                    share_fatal(self._endpoint_name(), brk.fatal)
                    raise LLMError(brk.fatal, fatal=True) from None
                if transient:
                    brk.failure(self.s)
                    if brk.is_open():
                        continue  # an outage: wait for the endpoint (outage_max_s) instead of burning the call
                elapsed = time.monotonic() - start - paused
                if not transient or attempt > self.s.retries or elapsed >= self.s.retry_window_s:
                    msg = f"model call failed after {attempt} attempt(s): {err}"
                    raise LLMError(msg, is_context_error(e)) from None
                delay = backoff(self.s, attempt, retry_after(e), self.s.retry_window_s - elapsed)
                log.warning("model %s attempt %d failed (%s); retrying in %.1fs", self.s.model, attempt, err, delay)
                await asyncio.sleep(delay)
                continue
            brk.success()
            charge(reply)
            why = check(reply)
            rec = {"attempt": attempt, "cached": False, "latency_s": round(time.perf_counter() - t0, 4),
                   "error": None, **reply.usage()}
            if why is not None and unread < self.s.no_action_retries:
                unread += 1
                report({**rec, "error": self._scrub(f"NoAction: {why}")[:2000], "transient": True})
                continue  # asked again at once: the server answered, it is the reply that is unusable
            report(rec)
            if self.cache is not None and why is None:
                self.cache.put(key, keyed[0], reply.to_dict(), keyed[1])
            return reply

    def _fatal(self, why: str, err: str) -> str:
        """The one line an endpoint that cannot serve the run is reported with (the key never in it)."""
        where = "the embedded server" if self._local else self.s.api_base or self.s.model.split("/", 1)[0]
        via = f", key from {self.s.api_key_env}" if self.s.api_key_env else ""
        return f"{FATAL_PREFIX}: {why} for {self.s.model} at {where}{via}: {err.splitlines()[0][:300]}"

    def _endpoint_name(self) -> str:
        return f"{self.s.model}@{'embedded' if local_model.is_local(self.s.model) else self.s.api_base}"

    def _embedded(self) -> local_model.LocalServer:
        """The embedded model's server (local_model.server_for checks the weights on disk at every call)."""
        if self._server is None:
            self._server = local_model.server_for(self.s.model)
        return self._server

    async def _attempt(self, messages, tools, response_format) -> Reply:
        if self._local and not self._embedded().running:
            await asyncio.to_thread(local_model.resolve, self.s.model)  # first use starts it; keep the loop responsive
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
        if response_format and self._local:
            kwargs["extra_body"] = {"grammar": self._grammar(response_format)}
        elif response_format:
            kwargs["response_format"] = response_format
        flag = _unlogged(litellm)
        async with semaphore(f"{model}@{base}", self.s.concurrency):
            # wait_for's task copies this context
            token, free = flag.set(True) if flag else None, _UNPRICED.set(self._local)
            try:
                # the deadline covers the whole response: a body trickled byte by byte cannot outlast it
                resp = await asyncio.wait_for(litellm.acompletion(**kwargs), self.s.timeout_s + 0.5)
            finally:
                if flag:
                    flag.reset(token)
                _UNPRICED.reset(free)
        reply = read_reply(resp, litellm, not self._local, lambda: request_chars(messages, tools))
        if reply.cost_usd is None and self.s.input_cost_per_token is not None:
            reply.cost_usd = (reply.input_tokens * self.s.input_cost_per_token
                              + reply.output_tokens * (self.s.output_cost_per_token or 0.0))
        return reply

    def _grammar(self, response_format: dict) -> str:
        """The embedded server's grammar of a response format (an agent sends the same one every call)."""
        if self._last_grammar is None or self._last_grammar[0] != response_format:
            self._last_grammar = (response_format, local_model.grammar(response_format))
        return self._last_grammar[1]

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.s.api_key_env) if self.s.api_key_env else None
        text = text.replace(key, "***") if key else text
        return redact.redact(text)


