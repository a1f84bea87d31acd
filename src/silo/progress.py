"""A progress bar for long runs: episodes done, tokens, cost and ETA (tqdm works in async code)."""

from __future__ import annotations

import sys

from silo.records import Episode


class Progress:
    """Wraps tqdm; disabled (no output) when not wanted."""

    def __init__(self, total: int, enabled: bool = True):
        self.tokens = 0
        self.cost = 0.0
        self.errors = 0
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="ep", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def update(self, ep: Episode) -> None:
        """Count one finished episode."""
        self.tokens += ep.usage.input_tokens + ep.usage.output_tokens
        self.cost += ep.usage.cost_usd
        self.errors += ep.status == "error"
        if self.bar is not None:
            self.bar.set_postfix(tokens=f"{self.tokens:,}", cost=f"${self.cost:.4f}", errors=self.errors,
                                 refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
