"""Every value a user gives `silo run` / `silo resume` or a suite file, checked with a one-line error.

`run_config` checks a resolved RunConfig (CLI options and suite values alike: ranges, types, names,
secrets put where a variable name belongs) and states which variable the provider key is read from;
`run_options` checks the run-time options (concurrency, ceilings, output path); `cost_ceiling`
refuses a --max-cost that cannot be enforced. Errors are ValueError: the CLI prints them on one line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from silo import redact

if TYPE_CHECKING:
    from silo.records import RunConfig

MAX_N = 1000  # agents per episode (N = 100000 would exhaust memory building the instance)
MAX_REPLICATES = 100_000
MAX_ROUNDS = 100_000
MAX_ACTION_BUDGET = 10_000

# extra (suite options / model settings): key -> (type, minimum, maximum)
NUMERIC = {"temperature": (float, 0.0, 2.0), "max_tokens": (int, 1, 1_000_000), "timeout_s": (float, 0.001, 86400),
           "retries": (int, 0, 1000), "backoff_s": (float, 0.0, 3600), "backoff_max_s": (float, 0.0, 86400),
           "retry_window_s": (float, 0.001, 7 * 86400), "no_action_retries": (int, 0, 100),
           "breaker_failures": (int, 1, 100_000), "breaker_pause_s": (float, 0.001, 86400),
           "outage_max_s": (float, 0.0, 7 * 86400), "episode_timeout_s": (float, 0.001, 7 * 86400),
           "concurrency": (int, 1, 10_000), "context_window": (int, 256, 100_000_000),
           "input_cost_per_token": (float, 0.0, 1.0), "output_cost_per_token": (float, 0.0, 1.0)}
BOOLEAN = ("cache", "prefill")
TEXT = ("api_base", "api_key_env", "action_mode", "cache_dir")


def number(name: str, value: Any, kind: type, low: float, high: float) -> None:
    """A finite int/float in [low, high]; bools and strings are not numbers."""
    ok_type = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


def _options(where: str, extra: dict[str, Any]) -> None:
    bad = redact.secret_options(extra)
    if bad:
        raise ValueError(f"{where}{bad[0]} holds a secret; put the key in an environment variable and name it "
                         "with api_key_env (--api-key-env), never the key itself")
    for key, value in extra.items():
        if value is None:
            continue
        if key in NUMERIC:
            number(f"{where}{key}", value, *NUMERIC[key])
        elif key in BOOLEAN and not isinstance(value, bool):
            raise ValueError(f"{where}{key} must be true or false, got {value!r}")
        elif key in TEXT and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{where}{key} must be a non-empty string, got {value!r}")
    if isinstance(extra.get("model_args"), dict):
        _options(f"{where}model_args.", extra["model_args"])
    for model, own in (extra.get("per_model") or {}).items():
        if isinstance(own, dict):
            _options(f"{where}per_model.{model}.", own)


def run_config(rc: RunConfig) -> RunConfig:
    """Check a resolved sweep; returns it with the provider key variable stated (when it is implied)."""
    from silo.prompts import VARIANTS

    for field, values in (("tasks", rc.tasks), ("n_agents", rc.n_agents), ("protocols", rc.protocols),
                          ("teams", rc.teams), ("prompt_variants", rc.prompt_variants)):
        if not values or any(isinstance(v, str) and not v.strip() for v in values):
            raise ValueError(f"{field} is empty: give at least one value")
    for n in rc.n_agents:
        if isinstance(n, int) and n < 1:
            raise ValueError(f"N must be >= 1, got {n}")
        number("N", n, int, 1, MAX_N)
    unknown = [v for v in rc.prompt_variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown prompt variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    number("replicates", rc.replicates, int, 1, MAX_REPLICATES)
    number("max_rounds", rc.max_rounds, int, 1, MAX_ROUNDS)
    number("action_budget", rc.action_budget, int, 1, MAX_ACTION_BUDGET)
    number("seed", rc.seed, int, 0, 2**63 - 1)
    if rc.models is not None and (not rc.models or any(not str(m).strip() for m in rc.models)):
        raise ValueError("models: every model must be a non-empty name")
    _options("option ", rc.extra)
    return _state_key_variable(rc)


def _state_key_variable(rc: RunConfig) -> RunConfig:
    """With no --api-key-env and no --api-base, the key is the provider's documented variable: say which."""
    from silo import local_model

    if "llm" not in rc.teams or rc.extra.get("api_key_env") or rc.extra.get("api_base"):
        return rc
    models = [m.partition("=")[2].strip() if m.partition("=")[0].strip().isdigit() else m for m in rc.models or []]
    wanted = {redact.provider_key_env(m) for m in models if not local_model.is_local(m)}
    if len(wanted) == 1 and None not in wanted:
        return rc.model_copy(update={"extra": {**rc.extra, "api_key_env": wanted.pop()}})
    return rc


def run_options(opts: dict[str, Any]) -> None:
    """Run-time options of `silo run` / `silo resume`."""
    if opts.get("concurrency") is not None:
        number("--concurrency", opts["concurrency"], int, 1, 10_000)
    if opts.get("max_total_tokens") is not None:
        number("--max-total-tokens", opts["max_total_tokens"], int, 1, 10**15)
    if opts.get("max_cost") is not None:
        number("--max-cost", opts["max_cost"], float, 1e-9, 1e9)
    if "out" in opts and not str(opts["out"] or "").strip():
        raise ValueError("-o/--out is empty: name a run directory")
    suite = opts.get("suite")
    if suite and Path(suite).is_dir():
        raise ValueError(f"--suite {suite} is a directory; name a suite file (.toml) or a bundled suite")


def cost_ceiling(rc: RunConfig, max_cost: float | None) -> None:
    """Refuse a --max-cost that cannot be enforced: a model litellm cannot price and no prices given."""
    if max_cost is None or "llm" not in rc.teams:
        return
    from silo.llm import LLMSettings, is_priced

    for m in rc.models or []:
        model = m.partition("=")[2].strip() if m.partition("=")[0].strip().isdigit() else m
        if not is_priced(model, LLMSettings.from_extra(model, rc.extra)):
            raise ValueError(f"--max-cost cannot be enforced: no price is known for {model}; give its prices "
                             "(-M input_cost_per_token=... -M output_cost_per_token=...) or use --max-total-tokens")
