"""Summary tables of scored runs: terminal and markdown, per task, level, protocol and N."""

from __future__ import annotations

import polars as pl

from silo.records import OUTCOMES, EpisodeScore

GROUP = ["level", "task", "protocol", "n_agents", "team"]


def agent_frame(scores: list[EpisodeScore]) -> pl.DataFrame:
    """One row per agent of every non-errored episode, with its episode's config columns."""
    rows = [
        {"level": s.level, "task": s.task, "protocol": s.protocol, "n_agents": s.n_agents, "team": s.team,
         "episode_id": s.episode_id, "correct": a.correct, "partial": a.partial, "held": a.held,
         "outcome": a.outcome}
        for s in scores if s.status != "error" for a in s.agents
    ]
    schema = {"level": pl.Int64, "task": pl.Utf8, "protocol": pl.Utf8, "n_agents": pl.Int64, "team": pl.Utf8,
              "episode_id": pl.Utf8, "correct": pl.Boolean, "partial": pl.Float64, "held": pl.Boolean,
              "outcome": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


def summary(scores: list[EpisodeScore], by: list[str] | None = None) -> pl.DataFrame:
    """S, P, H, gap H-S and outcome shares per group; errored episodes counted, not scored."""
    by = by or GROUP
    agents = agent_frame(scores)
    shares = [(pl.col("outcome") == o).mean().alias(o) for o in OUTCOMES]
    table = agents.group_by(by).agg(
        pl.col("episode_id").n_unique().alias("episodes"),
        pl.col("correct").mean().alias("S"), pl.col("partial").mean().alias("P"),
        pl.col("held").mean().alias("H"), *shares,
    ).with_columns((pl.col("H") - pl.col("S")).alias("gap"))
    errors = pl.DataFrame(
        [{k: getattr(s, k) for k in by} | {"errors": int(s.status == "error")} for s in scores],
        schema={**{k: table.schema[k] for k in by}, "errors": pl.Int64} if len(table) else None,
    )
    if len(errors):
        table = table.join(errors.group_by(by).agg(pl.col("errors").sum()), on=by, how="full", coalesce=True)
    cols = [*by, "episodes", "errors", "S", "P", "H", "gap", *OUTCOMES]
    return table.select([c for c in cols if c in table.columns]).sort(by)


def to_markdown(df: pl.DataFrame) -> str:
    """A markdown table; floats as percentages with one decimal."""
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    lines = [head, sep]
    for row in df.iter_rows():
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{100 * v:.1f}"
    return str(v)


def to_terminal(df: pl.DataFrame) -> str:
    """A fixed-width table for the terminal."""
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) for v in row] for row in df.iter_rows()]
    widths = [max(len(r[i]) for r in cells) for i in range(len(df.columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells)
