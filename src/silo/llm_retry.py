"""Reliability of model calls: which failures are retried, how long to wait, per-endpoint circuit
breakers and concurrency limits, and run budgets (silo.llm re-exports the public names).

Breakers and semaphores are kept per event loop and endpoint (asyncio primitives must not cross
loops). The run budget lives in a context variable, so each task charges its own calls. Warnings
go to the "silo.llm" logger (silo.progress.quiet_retries routes it).
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import logging
import random
import time
import weakref
from typing import Any

from silo.llm_settings import BUDGET_PREFIX, LLMError, LLMSettings, Reply

log = logging.getLogger("silo.llm")

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
TRANSIENT_NAMES = {"Timeout", "APITimeoutError", "APIConnectionError", "ServiceUnavailableError",
                   "InternalServerError", "BadGatewayError", "RateLimitError", "MalformedResponse"}


class MalformedResponse(Exception):
    """A 200 response without a usable choice, or with neither content nor tool calls: transient."""


class NoAction(Exception):
    """A reply from which the caller could not read an action (asked again, up to no_action_retries)."""


QUOTA_WORDS = ("insufficient_quota", "exceeded your current quota", "insufficient credits", "insufficient balance",
               "credit balance is too low")


def fatal_reason(exc: BaseException) -> str | None:
    """Why no call of this run can succeed at the endpoint (None: this call's own trouble). A rejected key,
    no access, an unknown model or an exhausted quota (OpenAI sends the last as a 429) are never retried:
    the runner stops starting episodes instead of erroring each one."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    text = str(exc).lower()
    if status == 402 or (status in (400, 403, 429) and any(w in text for w in QUOTA_WORDS)):  # Anthropic: a 400
        return f"the account's quota or credit is exhausted (HTTP {status or 429})"
    if status == 401 or name == "AuthenticationError":
        return "the endpoint rejected the API key (HTTP 401)"
    if status == 403 or name == "PermissionDeniedError":
        return "the endpoint refused access with this API key (HTTP 403)"
    if status == 404 or name == "NotFoundError":
        return "the model is not known at the endpoint (HTTP 404)"
    return None


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts, connection errors and unparseable bodies are retried."""
    if isinstance(exc, (asyncio.TimeoutError, ConnectionError)):
        return True
    if fatal_reason(exc):
        return False
    if "Missing credentials" in str(exc):  # litellm reports a missing key as a 500
        return False
    if getattr(exc, "status_code", None) in TRANSIENT_STATUS:
        return True
    return type(exc).__name__ in TRANSIENT_NAMES


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


def backoff(s: LLMSettings, attempt: int, asked: float | None, window_left: float) -> float:
    """Retry-After if the server sent one, else jittered exponential backoff; never past the window."""
    if asked is not None:
        delay = asked
    else:
        delay = min(s.backoff_max_s, s.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
    return max(0.0, min(delay, max(window_left, 0.0)))


_SEMAPHORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def semaphore(endpoint: str, limit: int) -> asyncio.Semaphore:
    """The concurrency limit of one endpoint on the running event loop."""
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
        self.fatal: str | None = None  # why no call can succeed here (a rejected key...): later calls fail at once

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


def breaker(endpoint: str) -> Breaker:
    """The breaker of one endpoint on the running event loop."""
    return _BREAKERS.setdefault(asyncio.get_running_loop(), {}).setdefault(endpoint, Breaker())


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("silo_budget", default=None)


def use_budget(budget: Any) -> contextvars.Token:
    """Charge every model call of this context to `budget` (an object with exceeded() and charge())."""
    return _BUDGET.set(budget)


def release_budget(token: contextvars.Token) -> None:
    _BUDGET.reset(token)


def check_budget() -> None:
    """Raise LLMError if this context's run budget is used up."""
    b = _BUDGET.get()
    why = b.exceeded() if b is not None else None
    if why:
        raise LLMError(f"{BUDGET_PREFIX}: {why}")


def shared_fatal(endpoint: str) -> str | None:
    """Why another process of this run found that `endpoint` cannot serve it (a Ray run's budget actor carries
    it from worker to worker), or None: an episode in flight then fails at once, as one on the same event loop
    does by the endpoint's breaker, instead of making a request that must fail."""
    look = getattr(_BUDGET.get(), "fatal_for", None)
    return look(endpoint) if look is not None else None


def share_fatal(endpoint: str, why: str) -> None:
    """Tell the other processes of this run (through its budget, where it is shared) why `endpoint` cannot serve it."""
    note = getattr(_BUDGET.get(), "note_fatal", None)
    if note is not None:
        note(endpoint, why)


def charge(r: Reply) -> None:
    """Charge a reply's tokens and cost to this context's run budget (if any)."""
    b = _BUDGET.get()
    if b is not None:
        b.charge(r.input_tokens, r.output_tokens, r.cost_usd)
