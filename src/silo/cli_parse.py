"""The comma-separated option parsers of the CLI (silo.cli and silo.cli_run: the first must not import the second)."""

from __future__ import annotations

import click


def _csv(value: str) -> list[str]:
    """A comma-separated option's values."""
    return [v.strip() for v in value.split(",") if v.strip()]


def _ints(value: str) -> list[int]:
    try:
        return [int(v) for v in _csv(value)]
    except ValueError as e:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from e
