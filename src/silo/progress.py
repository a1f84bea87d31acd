"""A progress bar for long runs: episodes done, and inside episodes rounds, model calls, tokens, retries.

Episodes advance the bar; `instrumented()` wraps the team factory so that every finished turn of an
agent reports its round and model calls to the bar at once (an embedded-model episode of 40 s shows
its rounds and tokens while it runs). `quiet_retries()` routes silo.llm's retry warnings into the
bar's `retries` counter instead of the terminal (each attempt stays in the episode's event log).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from silo.records import Episode

_CURRENT: list[Progress] = []  # the bar of the run in progress (one per process)


class Progress:
    """Wraps tqdm; disabled (no output) when not wanted."""

    def __init__(self, total: int, enabled: bool = True):
        self.tokens = 0
        self.cost = 0.0
        self.errors = 0
        self.calls = 0
        self.rounds = 0
        self.retries = 0
        self.done = 0
        self.live = False  # turns are reported: tokens come from them, not from finished episodes
        self.bar = None
        self._shown = 0.0
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="ep", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        _CURRENT[:] = [self]

    def update(self, ep: Episode) -> None:
        """Count one finished episode."""
        if not self.live:
            self.tokens += ep.usage.input_tokens + ep.usage.output_tokens
            self.calls += ep.usage.calls
            self.rounds += ep.rounds
        self.done += 1
        self.cost += ep.usage.cost_usd
        self.errors += ep.status == "error"
        self._postfix(force=True)
        if self.bar is not None:
            self.bar.update(1)

    def turn(self, events) -> None:
        """Count one finished agent turn: a round done by that agent, its model calls and tokens."""
        self.live = True
        self.rounds += 1
        for e in events:
            if e.kind == "model_call":
                self.calls += 1
                self.tokens += int(e.data.get("input_tokens", 0) or 0) + int(e.data.get("output_tokens", 0) or 0)
        self._postfix()

    def retry(self) -> None:
        self.retries += 1
        self._postfix()

    def _postfix(self, force: bool = False) -> None:
        if self.bar is None or (not force and time.monotonic() - self._shown < 0.5):
            return
        self._shown = time.monotonic()
        post = {"turns": f"{self.rounds:,}", "calls": f"{self.calls:,}", "tokens": f"{self.tokens:,}",
                "cost": f"${self.cost:.4f}", "errors": self.errors}
        if self.retries:
            post["retries"] = self.retries
        self.bar.set_postfix(post, refresh=not force)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if _CURRENT and _CURRENT[0] is self:
            _CURRENT.clear()


def current() -> Progress | None:
    """The bar of the run in progress, if any."""
    return _CURRENT[0] if _CURRENT else None


class _Reporting:
    """An agent whose finished turns are reported to the current bar."""

    def __init__(self, agent):
        self.agent = agent
        self.lingers = getattr(agent, "lingers", False)  # a partner stays without holding the episode open

    async def take_turn(self, turn) -> None:
        try:
            await self.agent.take_turn(turn)
        finally:
            bar = current()
            if bar is not None:
                bar.turn(turn.events)


def instrumented(factory=None):
    """A team factory whose LLM agents report every turn to the progress bar (scripted teams unchanged)."""
    from silo.runner import default_team_factory

    base = factory or default_team_factory

    def build(inst, cfg):
        agents = base(inst, cfg)
        return [_Reporting(a) for a in agents] if cfg.team == "llm" else agents

    return build


class _RetryCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        bar = current()
        if bar is not None and record.levelno == logging.WARNING:
            bar.retry()


@contextlib.contextmanager
def quiet_retries(name: str = "silo.llm"):
    """While running: retry warnings of `name` count in the bar and are not printed; errors still are."""
    logger = logging.getLogger(name)
    handler = _RetryCounter()
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # without a configured handler, Python prints warnings to stderr
    errors = logging.StreamHandler(sys.stderr)
    errors.setLevel(logging.ERROR)
    logger.addHandler(errors)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(errors)
        logger.propagate = old
