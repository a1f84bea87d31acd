"""Fail fast before the first episode: one cheap check per distinct model endpoint.

An endpoint is (model, api base, key variable) after per-model options are applied. Checks, in order:
1. credentials present: the variable named with --api-key-env is set, or (with no api base) the
   provider's documented key variable (litellm's validate_environment) is set;
2. server reachable and model known: a one-token completion through silo.llm with no retries;
   a refused connection, a rejected key (401/403) or an unknown model (404) stop the run with one line
   naming the URL or variable. A rate limit or server error (429, 5xx) passes: the endpoint answered,
   and the retry logic handles transient trouble during the run.
The embedded model is started by silo itself: its check is that the weights are installed.
`silo run --no-preflight` skips all of this.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from silo import local_model
from silo.llm_retry import fatal_reason
from silo.records import RunConfig

PROBE_TIMEOUT_S = 15.0
NOT_MODELS = ("partner:", "scripted:")  # scripted agents inside LLM teams (silo.agents.partners): no endpoint
PASSING_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


class PreflightError(ValueError):
    """An endpoint that cannot work; the message names the variable or URL to fix."""


@dataclass(frozen=True)
class Endpoint:
    """One distinct model endpoint of a run."""

    model: str
    api_base: str | None
    api_key_env: str | None

    @property
    def where(self) -> str:
        return self.api_base or self.model.split("/", 1)[0]


def model_extra(model: str, extra: dict) -> dict:
    """The options one model gets: the run's options, overridden by its entry in extra['per_model']."""
    own = (extra.get("per_model") or {}).get(model) or {}
    return {**{k: v for k, v in extra.items() if k != "per_model"}, **own}


def endpoints(rc: RunConfig) -> list[Endpoint]:
    """Distinct endpoints of the LLM agents of a run (none for scripted teams)."""
    if "llm" not in rc.teams:
        return []
    seen: dict[Endpoint, None] = {}
    for entry in rc.models or [local_model.DEFAULT_MODEL]:
        head, sep, rest = entry.partition("=")
        m = rest.strip() if sep and (head.strip().isdigit() or head.strip() == "*") else entry.strip()
        if m.startswith(NOT_MODELS):
            continue
        x = model_extra(m, rc.extra)
        base = None if local_model.is_local(m) else x.get("api_base")
        seen[Endpoint(m, base, x.get("api_key_env"))] = None
    return list(seen)


def check_run(rc: RunConfig) -> list[str]:
    """Check every endpoint of a run; raise PreflightError on the first that cannot work; returns notes."""
    notes: list[str] = []
    for ep in endpoints(rc):
        note = check(ep, model_extra(ep.model, rc.extra))
        if note:
            notes.append(note)
    return notes


def check(ep: Endpoint, extra: dict) -> str | None:
    """Check one endpoint; None when all is well, a note when it passes with a warning."""
    if local_model.is_local(ep.model):
        try:
            local_model.weights_path(ep.model[len(local_model.PREFIX):])
        except local_model.LocalModelError as e:
            raise PreflightError(str(e)) from None
        return None
    _check_key(ep)
    return asyncio.run(_probe(ep, extra))


def _check_key(ep: Endpoint) -> None:
    from silo.llm import _litellm

    if ep.api_key_env:
        if not os.environ.get(ep.api_key_env):
            raise PreflightError(f"environment variable {ep.api_key_env} (--api-key-env, for {ep.model}) is not set")
        return
    if ep.api_base:
        return  # a self-hosted OpenAI-compatible server (vLLM, llama.cpp, Ollama) usually needs no key
    missing = _litellm().validate_environment(model=ep.model).get("missing_keys") or []
    if missing:
        raise PreflightError(f"{' and '.join(missing)} not set (needed by {ep.model}); set it, or name the "
                             "variable holding the key with --api-key-env")


async def _probe(ep: Endpoint, extra: dict) -> str | None:
    """A one-token completion, no retries: reachability, key and model in one cheap request."""
    from silo.llm import Client, LLMSettings, _litellm

    settings = LLMSettings.from_extra(ep.model, {**extra, "cache": False, "retries": 0})
    model, base, key = Client(settings)._endpoint()
    kwargs = {"model": model, "messages": [{"role": "user", "content": "Reply with OK."}], "max_tokens": 1,
              "timeout": PROBE_TIMEOUT_S, "num_retries": 0, "max_retries": 0,
              **{k: v for k, v in (extra.get("model_args") or {}).items() if k != "max_tokens"}}
    if base:
        kwargs["api_base"] = base
    if key:
        kwargs["api_key"] = key
    try:
        await _litellm().acompletion(**kwargs)
    except Exception as e:  # classified below; anything unrecognised stops the run with its first line
        return _classify(ep, e, key)
    return None


def _classify(ep: Endpoint, e: Exception, key: str | None) -> str | None:
    status = getattr(e, "status_code", None)
    name = type(e).__name__
    text = str(e).replace(key, "***") if key else str(e)
    first = text.strip().splitlines()[0][:200] if text.strip() else name
    via = f" from {ep.api_key_env}" if ep.api_key_env else ""
    if "quota" in (fatal_reason(e) or ""):  # OpenAI sends an empty quota as a 429, which would pass below
        raise PreflightError(f"{ep.where}: the account's quota or credit is exhausted for {ep.model}"
                             f"{via and ' (key' + via + ')'}: {first}")
    if status in (401, 403) or name in ("AuthenticationError", "PermissionDeniedError"):
        raise PreflightError(f"{ep.where} rejected the API key{via} for {ep.model} (HTTP {status or 401})")
    if status == 404 or name == "NotFoundError":
        raise PreflightError(f"model {ep.model} is not known at {ep.where} (HTTP 404): {first}")
    unreachable = any(w in text.lower() for w in ("connection error", "connection refused", "name or service"))
    if unreachable or name in ("APIConnectionError", "Timeout", "APITimeoutError") or isinstance(e, OSError):
        flag = " (--api-base)" if ep.api_base else ""
        raise PreflightError(f"cannot reach {ep.where}{flag} for {ep.model}: {first}")
    if status in PASSING_STATUS or name in ("RateLimitError", "InternalServerError", "ServiceUnavailableError"):
        return f"{ep.where} answered HTTP {status} to the preflight request for {ep.model}; running anyway"
    raise PreflightError(f"{ep.where} refused a one-token request for {ep.model}: {name}: {first}")
