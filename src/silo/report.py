"""Reports of scored runs: terminal and markdown tables with intervals, and the full `silo report`.

A report is a list of Blocks (headings, paragraphs, tables, images) rendered to markdown
here and to a self-contained HTML page by html_report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from silo.analysis import Tables, build_tables
from silo.metrics import CORE, MEANS, RATES, SHARES, aggregate, rcc
from silo.records import OUTCOMES, EpisodeScore

GROUP = ["level", "task", "protocol", "n_agents", "team"]
PCT = {*SHARES, *RATES, "gap", "fidelity", "share", "S_k", "S_1", "RCC", "S_A", "S_B", "dS", "P_A", "P_B", "dP",
       "own_shard", "modal_constant", "lucky_here", "lucky_max", "self_contained", "set_apart_share"}
RENAME = {"n_agents": "N", "prompt_variant": "prompt", "episodes": "n", "rounds_to_completion": "rounds_done",
          "tokens_in_per_round": "tok_in/round", "tokens_out_per_round": "tok_out/round", "consensus_failure":
          "consensus_fail", "integration_error": "integr_error", "no_answer_held": "no_answer&held",
          "set_apart": "set apart"}
DOCS = "docs/metrics.md"
INTERVALS = ("Intervals: 95%; for shares and means a cluster bootstrap over instances (percentile, 2,000 resamples), "
             "replaced by a Wilson interval over instances when every instance scores all-or-nothing or all "
             "instances score the same (so a share's interval is never zero-width); for episode-level rates "
             "(solved, consensus failure, unanimous) a Wilson interval over episodes.")


@dataclass
class Block:
    """One piece of a report: kind is h1, h2, p, table or img."""

    kind: str
    text: str = ""
    table: pl.DataFrame | None = None
    path: Path | None = None


# ---- formatting --------------------------------------------------------------------------

def _cell(col: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{100 * v:.1f}" if col in PCT else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def display(df: pl.DataFrame) -> pl.DataFrame:
    """All-string table: X, X_lo, X_hi collapse to 'X [lo, hi]'; shares in percent; renamed headers."""
    cols = df.columns
    out: dict[str, list[str]] = {}
    for c in cols:
        if c.endswith(("_lo", "_hi", "_n")) and c.rsplit("_", 1)[0] in cols:
            continue
        vals = df.get_column(c).to_list()
        if f"{c}_lo" in cols:
            lo, hi = df.get_column(f"{c}_lo").to_list(), df.get_column(f"{c}_hi").to_list()
            cells = [_cell(c, v) if _cell(c, a) == "-" else f"{_cell(c, v)} [{_cell(c, a)}, {_cell(c, b)}]"
                     for v, a, b in zip(vals, lo, hi, strict=True)]
            if f"{c}_n" in cols and "episodes" in cols:  # a rate over a subset (e.g. global tasks only)
                ns, eps = df.get_column(f"{c}_n").to_list(), df.get_column("episodes").to_list()
                cells = [s if n == e or s == "-" else f"{s} n={n}" for s, n, e in zip(cells, ns, eps, strict=True)]
        else:
            cells = [_cell(c, v) for v in vals]
        out[RENAME.get(c, c)] = cells
    return pl.DataFrame(out, schema={k: pl.Utf8 for k in out})


def to_markdown(df: pl.DataFrame) -> str:
    """A markdown table; shares in percent with intervals."""
    d = display(df)
    lines = ["| " + " | ".join(d.columns) + " |", "|" + "|".join("---" for _ in d.columns) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in d.iter_rows()]
    return "\n".join(lines) + "\n"


def to_terminal(df: pl.DataFrame) -> str:
    """A fixed-width table for the terminal."""
    d = display(df)
    cells = [d.columns, *[list(r) for r in d.iter_rows()]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(d.columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


def summary(scores: list[EpisodeScore], by: list[str] | None = None) -> pl.DataFrame:
    """S, P, H, gap H-S (with intervals) and outcome shares per group; errored episodes counted, not scored."""
    return summary_from_tables(build_tables(scores), by)


def summary_from_tables(t: Tables, by: list[str] | None = None) -> pl.DataFrame:
    """The summary of `summary`, from already built tables; never pools different models into one row
    (`models` joins the grouping; the column is left out when every team is scripted)."""
    by = list(by or GROUP)
    if "models" not in by and "config" not in by:
        by.insert(by.index("team") + 1 if "team" in by else len(by), "models")
    out = aggregate(t.episodes, by, metrics=["S", "P", "H", "gap", *OUTCOMES], intervals=["S", "P", "H", "gap"])
    if "models" in out.columns and not any(out.get_column("models").to_list()):
        out = out.drop("models")
    return out


def headline(t: Tables) -> pl.DataFrame:
    """One row per team configuration (team, models, prompt variant): S, P, H, gap with intervals, n, errors.
    Over N >= 2 episodes when there are any (N = 1 is the no-communication baseline)."""
    eps = with_config(t.episodes)
    multi = eps.filter(pl.col("n_agents") > 1)
    eps = multi if multi.height else eps
    out = aggregate(eps, ["config"], metrics=["S", "P", "H", "gap"], intervals=["S", "P", "H", "gap"]).select(
        "config", "episodes", "errors", *_ci(["S", "P", "H", "gap"]))
    if "set_apart" in eps.columns and len(out):  # self-contained agents, left out of H and the gap
        apart = eps.filter(pl.col("status") != "error").group_by("config").agg(
            pl.col("set_apart").sum().cast(pl.Int64).alias("set_apart"))
        out = out.join(apart, on="config", how="left").with_columns(pl.col("set_apart").fill_null(0))
    return out


def terminal(t: Tables, by: list[str] | None = None, sources: list[str | Path] | None = None) -> str:
    """What `silo report` prints: the summary grouped by `by` (with outcome shares), then, last so that it is
    what stays on screen, the headline by team configuration, after a warning if the runs `sources` differ."""
    from silo.provenance import differences, run_provenance

    diff = differences([run_provenance(p) for p in sources]) if sources and len(sources) > 1 else []
    warn = "WARNING: the runs compared differ in: " + "; ".join(diff) + "\n\n" if diff else ""
    return ("By " + ", ".join(by or GROUP) + " (shares in percent, 95% intervals)\n"
            + to_terminal(summary_from_tables(t, by)) + "\n\n" + warn + "Headline by team configuration (N >= 2 "
            "when run; 95% intervals; n = scored episodes)\n" + to_terminal(headline(t)))


# ---- the full report ---------------------------------------------------------------------

def with_config(df: pl.DataFrame) -> pl.DataFrame:
    """Add `config`: the team configuration label (team, models, prompt variant)."""
    label = pl.col("team") + pl.when(pl.col("models") != "").then(pl.lit(" [") + pl.col("models") + pl.lit("]")) \
        .otherwise(pl.lit("")) + pl.when(pl.col("prompt_variant") != "neutral") \
        .then(pl.lit(" (") + pl.col("prompt_variant") + pl.lit(")")).otherwise(pl.lit(""))
    return df.with_columns(label.alias("config"))


def _overview(t: Tables) -> str:
    e = t.episodes
    def vals(c):
        return ", ".join(str(v) for v in sorted(e.get_column(c).unique().to_list()))
    errors = e.filter(pl.col("status") == "error").height
    return (f"{e.height} episodes ({errors} errored, counted but not scored) from run(s) {vals('run')}; "
            f"{e.get_column('task').n_unique()} tasks ({vals('task')}); N in {{{vals('n_agents')}}}; "
            f"protocols {vals('protocol')}; teams {vals('team')}; {t.agents.height} agents scored.")


def _failures(agents: pl.DataFrame) -> pl.DataFrame:
    """Per configuration and failure class: agents, share of the configuration's agents, and one example."""
    a = with_config(agents).filter(pl.col("status") != "error")
    total = a.group_by("config").agg(pl.len().alias("all"))
    bad = a.filter(pl.col("outcome") != "correct")
    if bad.is_empty():
        return pl.DataFrame({"config": [], "outcome": [], "agents": [], "share": [], "example": []})
    return (bad.group_by("config", "outcome").agg(
        pl.len().alias("agents"), (pl.col("episode_id").first() + pl.lit(" agent ") + pl.col("agent").first()
                                    .cast(pl.Utf8) + pl.lit(": ") + pl.col("why").first()).alias("example"))
        .join(total, on="config").with_columns((pl.col("agents") / pl.col("all")).alias("share"))
        .select("config", "outcome", "agents", "share", "example").sort("config", "outcome"))


def _guess_rows(tasks: list[str]) -> list[dict]:
    """Guessability rows (task, name, best trivial strategy's highest rate) of the tasks over budget."""
    from silo import guess

    if hasattr(guess, "guessable"):
        rows = [(t, guess.guessable(t)) for t in tasks]
        return [{"task": t, "name": r.get("name"), "lucky_max": r.get("lucky_max")} for t, r in rows if r]
    table = guess.load_guessability()
    return [{"task": t, "name": table[t].get("name"), "lucky_max": max(table[t].get("own_shard") or 0,
                                                                        table[t].get("modal_constant") or 0)}
            for t in tasks if table.get(t, {}).get("guessable")]


def _guessable(agents: pl.DataFrame) -> list[Block]:
    """Flag the run's tasks whose answers trivial strategies often get right (docs/guessability.md)."""
    rows = _guess_rows(sorted(agents.get_column("task").unique().to_list()))
    if not rows:
        return []
    tasks = [r["task"] for r in rows]
    lucky = (agents.filter(pl.col("task").is_in(tasks) & (pl.col("status") != "error")).group_by("task")
             .agg((pl.col("outcome") == "lucky").mean().alias("lucky_here")))
    return [Block("h2", "Guessable tasks"),
            Block("p", "These tasks' answers are often right by trivial strategies (e.g. the own shard alone, or the "
                       "most frequent answer), so their `lucky` share is expected, not noise: lucky_max is the best "
                       "trivial strategy's highest rate, lucky_here this run's lucky share (both in percent); see "
                       "docs/guessability.md."),
            Block("table", table=pl.DataFrame(rows).join(lucky, on="task", how="left").sort("task"))]


def provenance_blocks(sources: list[str | Path]) -> list[Block]:
    """What produced the numbers (one column per run) and a warning naming every field compared runs differ in."""
    from silo.provenance import differences, run_provenance

    rows = [run_provenance(p) for p in sources]
    fields = [k for k in rows[0] if k not in ("run", "_versions")]
    names = [r["run"] if [x["run"] for x in rows].count(r["run"]) == 1 else f"{r['run']} ({i + 1})"
             for i, r in enumerate(rows)]  # two run folders of the same name keep a column each
    table = pl.DataFrame({"field": fields, **{n: ["-" if r[k] is None else str(r[k]) for k in fields]
                                              for n, r in zip(names, rows, strict=True)}})
    blocks = [Block("h2", "Provenance"), Block("table", table=table)]
    diff = differences(rows)
    if diff:
        blocks.insert(1, Block("warn", "The runs compared here differ in: " + "; ".join(diff)
                                       + ". Their numbers may not be comparable."))
    return blocks


def build_report(t: Tables, out: Path, plots: bool = True, heat_episodes: list[str] | None = None,
                 sources: list[str | Path] | None = None, plots_job=None) -> list[Block]:
    """Every section of the report; writes plots into `out` when asked (`plots_job`: those plots already
    being drawn in a worker, report_plots.start); `sources` (run directories) adds the provenance block."""
    from silo import report_plots

    eps, agents = with_config(t.episodes), t.agents
    by_cfg = aggregate(eps.filter(pl.col("n_agents") > 1), ["config"])
    blocks = [Block("h1", "silo report"),
              Block("h2", "Headline by team configuration" + (" (N >= 2)" if eps.filter(
                  pl.col("n_agents") > 1).height else "")),
              Block("p", "S = share of agents whose answer is correct, P = partial credit, H = share of agents that "
                         "held all the information their answer depends on, gap = H - S; in percent with 95% "
                         "intervals; n = scored episodes; errored episodes are counted, never scored. H and the "
                         "gap count only agents that had to communicate: set_apart agents (whose answer depends "
                         "on their own shard alone) are left out of them."),
              Block("table", table=headline(t))]
    blocks += provenance_blocks(sources) if sources else []
    blocks += [Block("h2", "Overview"), Block("p", _overview(t)),
               Block("p", f"Every figure is an estimate with its 95% interval in brackets (definitions and methods: "
                          f"{DOCS}); n = episodes. Shares are per episode, averaged over episodes, and always in "
                          f"percent. {INTERVALS}")]
    blocks += [Block("h2", "Episode rates by team configuration (N >= 2)"),
               Block("table", table=by_cfg.select("config", "episodes", *_ci(["solved", "consensus_failure",
                                                                              "unanimous"])))]
    lvl = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "level"], intervals=[*CORE, *OUTCOMES])
    blocks += [Block("h2", "By level (N >= 2)"),
               Block("table", table=lvl.select("config", "level", "episodes", *_ci(["S", "P", "H", "gap"])))]
    cell = aggregate(eps, ["config", "level", "protocol", "n_agents"])
    blocks += [Block("h2", "By level, protocol and N"),
               Block("table", table=cell.select("config", "level", "protocol", "n_agents", "episodes", "errors",
                                                *_ci(["S", "P", "H", "solved"])))]
    blocks += [Block("h2", "Gap decomposition"),
               Block("p", "Outcome shares of agents (they sum to 100%). S = correct + lucky; "
                          "H - S = integration_error + no_answer&held - lucky."),
               Block("table", table=lvl.select("config", "level", "episodes", *_ci(["gap", *OUTCOMES]),
                                               "no_answer_held"))]
    blocks += _guessable(agents)
    from silo.probes import report_blocks  # partner roles and departed sends (issue 17), when present
    blocks += report_blocks(t)
    from silo.matched import report_blocks as matched_blocks  # compute-matched single agent (issue 17.5)
    blocks += matched_blocks(sources)
    comm = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "protocol", "n_agents"],
                     intervals=[*MEANS, "has_leader"])
    blocks += [Block("h2", "Communication and cost (N >= 2)"),
               Block("table", table=comm.select("config", "protocol", "n_agents", "episodes",
                                                *_ci(["messages", "redundancy", "fidelity", "has_leader", "density",
                                                      "rounds_to_completion", "tokens_in_per_round",
                                                      "tokens_out_per_round", "cost_usd"])))]
    big = eps.filter((pl.col("n_agents") > 2) & pl.col("has_leader").is_not_null())
    lead = aggregate(big, ["config", "level", "has_leader"], metrics=["S", "H"], intervals=["S", "H"])
    done = aggregate(eps.filter(pl.col("n_agents") > 1), ["config", "solved"], metrics=["rounds_to_completion"],
                     intervals=["rounds_to_completion"])
    blocks += [Block("h2", "Emergent leaders and rounds"),
               Block("p", "S and H of episodes with and without an emergent leader (an agent receiving more than "
                          "1.5x the mean; N >= 3), and rounds to completion of solved and unsolved episodes."),
               Block("table", table=lead.select("config", "level", "has_leader", "episodes", *_ci(["S", "H"]))),
               Block("table", table=done.select("config", "solved", "episodes", *_ci(["rounds_to_completion"])))]
    r = rcc(eps, ["config", "protocol", "n_agents"])
    if len(r):
        blocks += [Block("h2", "Relative coordination cost RCC = 1 - S(N=k) / S(N=1)"),
                   Block("table", table=r.select("config", "protocol", "n_agents", "tasks", "S_k", "S_1",
                                                 *_ci(["RCC"])))]
    blocks += [Block("h2", "Failures explained"),
               Block("p", "Every wrong or missing answer falls in exactly one class; one example each."),
               Block("table", table=_failures(agents))]
    if plots:
        blocks += [Block("h2", "Plots")] + [Block("img", caption, path=path) for path, caption
                                            in report_plots.result(plots_job, eps, t.links, out, heat_episodes)]
    return blocks


def _ci(cols: list[str]) -> list[str]:
    return [x for c in cols for x in (c, f"{c}_lo", f"{c}_hi", f"{c}_n") if x != f"{c}_n" or c in RATES]


def to_markdown_doc(blocks: list[Block], base: Path) -> str:
    """Render blocks as markdown; images are linked relative to `base`."""
    parts = []
    for b in blocks:
        if b.kind == "h1":
            parts.append(f"# {b.text}\n")
        elif b.kind == "h2":
            parts.append(f"## {b.text}\n")
        elif b.kind == "p":
            parts.append(b.text + "\n")
        elif b.kind == "warn":
            parts.append(f"> **Warning.** {b.text}\n")
        elif b.kind == "table":
            parts.append(to_markdown(b.table) if len(b.table) else "_(none)_\n")
        elif b.kind == "img":
            parts.append(f"![{b.text}]({b.path.relative_to(base).as_posix()})\n\n_{b.text}_\n")
    return "\n".join(parts)


def write_report(t: Tables, out: str | Path, plots: bool = True, heat_episodes: list[str] | None = None,
                 sources: list[str | Path] | None = None, plots_job=None) -> Path:
    """Write report.md, report.html, the PNG plots and the episode/agent tables (CSV) into `out` (the plots
    of `plots_job` when given: report_plots.start)."""
    from silo.html_report import to_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blocks = build_report(t, out, plots, heat_episodes, sources, plots_job)
    (out / "report.md").write_text(to_markdown_doc(blocks, out))
    (out / "report.html").write_text(to_html(blocks, "silo report"))
    t.episodes.write_csv(out / "episodes.csv")
    t.agents.write_csv(out / "agents.csv")
    return out / "report.md"
