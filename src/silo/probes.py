"""Partner probes summary: "can use" (an LLM agent with informative partners) against all-LLM teams.

Three runs of tasks/probes.toml (see docs/probes.md): `mixed` (agent 0 an LLM, every other agent an
informative partner), `usual` (all-LLM, same instances) and optionally `liar` (LLM agents and one
liar). Per task level and protocol:
- can_use: share of agent-0 LLM rows correct in `mixed`; usual: the same agent of the same instance in
  `usual`; diff = can_use - usual with a 95% normal interval over the paired instances;
- liar (LLM rows only): valid = share of LLM agents that submitted a correct answer, live = share that
  submitted at all, consensus = share of episodes whose LLM submissions are one answer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from silo.analysis import load_run


def _llm_rows(path: str | Path, role: str = "llm") -> list[dict]:
    t = load_run(path)
    rows = [r for r in t.agents.to_dicts() if r["role"] == role and r["status"] != "error"]
    return sorted(rows, key=lambda r: (r["episode_id"], r["agent"]))


def paired(mixed: str | Path, usual: str | Path, role: str = "llm") -> list[dict]:
    """Per (level, protocol): pairs, can_use, usual, diff and its 95% interval (the same agent of the same
    instance; `role` picks the rows, 'llm' unless a scripted strategy stands in for the model)."""
    base = {(r["instance_id"], r["protocol"], r["agent"]): r["correct"] for r in _llm_rows(usual, role)}
    cells: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for r in _llm_rows(mixed, role):
        key = (r["instance_id"], r["protocol"], r["agent"])
        if key in base:
            cells[(r["level"], r["protocol"])].append((float(r["correct"]), float(base[key])))
    out = []
    for (level, proto), pairs in sorted(cells.items()):
        d = [a - b for a, b in pairs]
        n, mean = len(d), sum(d) / len(d)
        half = 1.96 * math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else None
        out.append({"level": level, "protocol": proto, "pairs": n, "can_use": sum(a for a, _ in pairs) / n,
                    "usual": sum(b for _, b in pairs) / n, "diff": mean,
                    "diff_lo": None if half is None else mean - half, "diff_hi": None if half is None else mean + half})
    return out


def liar(path: str | Path, role: str = "llm") -> list[dict]:
    """Per (level, protocol): valid, live and consensus shares of the LLM agents of a liar run."""
    t = load_run(path)
    answers = {(r["episode_id"], r["agent"]): r["answer"] for r in t.agents.to_dicts()}
    by_ep: dict[str, list[dict]] = defaultdict(list)
    for r in _llm_rows(path, role):
        by_ep[r["episode_id"]].append(r)
    cells: dict[tuple, list[list[dict]]] = defaultdict(list)
    for rows in by_ep.values():
        cells[(rows[0]["level"], rows[0]["protocol"])].append(rows)
    out = []
    for (level, proto), eps in sorted(cells.items()):
        rows = [r for e in eps for r in e]
        agree = [len({answers[(r["episode_id"], r["agent"])] for r in e if r["submitted"]}) == 1
                 for e in eps if any(r["submitted"] for r in e)]
        out.append({"level": level, "protocol": proto, "episodes": len(eps),
                    "valid": sum(r["correct"] for r in rows) / len(rows),
                    "live": sum(r["submitted"] for r in rows) / len(rows),
                    "consensus": sum(agree) / len(agree) if agree else None})
    return out


def markdown(pairs: list[dict], liars: list[dict] | None = None) -> str:
    """The two tables as markdown."""
    f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    lines = ["| level | protocol | pairs | can use | all-LLM | diff [95% CI] |", "|---|---|---|---|---|---|"]
    lines += [f"| {p['level']} | {p['protocol']} | {p['pairs']} | {f(p['can_use'])} | {f(p['usual'])} | "
              f"{f(p['diff'])} [{f(p['diff_lo'])}, {f(p['diff_hi'])}] |" for p in pairs]
    if liars:
        lines += ["", "| level | protocol | episodes | valid | live | consensus |", "|---|---|---|---|---|---|"]
        lines += [f"| {x['level']} | {x['protocol']} | {x['episodes']} | {f(x['valid'])} | {f(x['live'])} | "
                  f"{f(x['consensus'])} |" for x in liars]
    return "\n".join(lines)


def report_blocks(t) -> list:
    """Report sections: agents by role (only when a run mixes roles) and sends to departed agents (when any)."""
    import polars as pl

    from silo.report import Block

    blocks = []
    agents = t.agents.filter(pl.col("status") != "error") if t.agents.height else t.agents
    if "role" in agents.columns and agents.get_column("role").n_unique() > 1:
        by = (agents.group_by("models", "level", "protocol", "role")
              .agg(pl.len().alias("agents"), (100 * pl.col("correct").mean()).round(1).alias("S"),
                   (100 * pl.col("held").mean()).round(1).alias("H"),
                   (100 * pl.col("submitted").mean()).round(1).alias("submitted"))
              .sort("models", "level", "protocol", "role"))
        blocks += [Block("h2", "By agent role"),
                   Block("p", "Teams with scripted partners (docs/probes.md): S, H and the share that submitted, in "
                              "percent, per role. Partners never submit; read the llm rows."),
                   Block("table", table=by)]
    eps = t.episodes
    if "departed_sends" in eps.columns and (eps.get_column("departed_sends").fill_null(0) > 0).any():
        gone = (eps.group_by("models", "protocol", "n_agents")
                .agg(pl.len().alias("episodes"), pl.col("departed_sends").sum().alias("departed_sends"),
                     pl.col("messages").sum().alias("messages"))
                .sort("models", "protocol", "n_agents"))
        blocks += [Block("h2", "Sends to departed agents"),
                   Block("p", "Messages (per recipient) sent to an agent that had already submitted, so never read "
                              "(silo.departed)."),
                   Block("table", table=gone)]
    return blocks
