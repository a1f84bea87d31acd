"""Secrets never reach disk: a filter every written string passes, and where keys come from.

Keys are read only from the environment variable the user names (`--api-key-env`), or, for a
known provider without `--api-base`, from the provider's documented variable (PROVIDER_KEYS),
which the run's config then states. `redact` replaces the value of every key variable (the
named ones, the documented ones, and any variable whose name looks like a secret) by `***`;
rundir.atomic_write, the episode writer and the model-call cache apply it to what they write.
"""

from __future__ import annotations

import json
import os
import re

PROVIDER_KEYS = {
    "openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "together_ai": "TOGETHERAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "cohere": "COHERE_API_KEY",
    "xai": "XAI_API_KEY", "fireworks_ai": "FIREWORKS_AI_API_KEY", "huggingface": "HF_TOKEN",
}
SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.I)
SECRET_OPTION = re.compile(r"^(api_?key|key|token|secret|password|passwd|credentials?|auth(orization)?)$", re.I)
MIN_SECRET = 8  # shorter values are not redacted (they would match ordinary text)
MASK = "***"

_named: set[str] = set()


def register(var: str | None) -> None:
    """Add a variable whose value must never be written (the one --api-key-env names)."""
    if var:
        _named.add(var)


def provider_key_env(model: str) -> str | None:
    """The documented key variable of a model's provider ('openai/gpt-4o' -> OPENAI_API_KEY)."""
    head = model.split("/", 1)[0] if "/" in model else ("openai" if model.startswith(("gpt-", "o1", "o3")) else "")
    return PROVIDER_KEYS.get(head)


def secret_values() -> list[str]:
    """Values of every key variable currently set, longest first."""
    names = _named | set(PROVIDER_KEYS.values()) | {k for k in os.environ if SECRET_NAME.search(k)}
    vals = {os.environ.get(n) or "" for n in names}
    return sorted((v for v in vals if len(v) >= MIN_SECRET), key=len, reverse=True)


def redact(text: str) -> str:
    """text with the value of every key variable (raw and JSON-escaped) replaced by ***."""
    for v in secret_values():
        if v in text:
            text = text.replace(v, MASK)
        esc = json.dumps(v)[1:-1]
        if esc != v and esc in text:
            text = text.replace(esc, MASK)
    return text


def secret_options(options: dict) -> list[str]:
    """Option names (suite options / model args) that hold a secret instead of naming a variable."""
    values = set(secret_values())
    bad = []
    for k, v in options.items():
        if SECRET_OPTION.match(str(k)) or (isinstance(v, str) and v in values):
            bad.append(str(k))
    return bad
