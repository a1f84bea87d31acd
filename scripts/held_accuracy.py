"""Held accuracy: the scorer's held / outcome per agent against the chatty team's constructed truth.

Runs the chatty reference team (silo.agents.chatty) over tasks x protocols x N x seeds, scores every
episode with silo's scorer, and counts per task:
  FP  scored held, truly not held      (rate over truly-not-held agents)
  FN  truly held, scored not held      (rate over truly-held agents)
  outcome mismatches                   (scorer class != constructed class)
Agents whose answer depends only on their own shard (depends_on = {self}) are trivially held both ways and
are counted apart. Budget (issue 12): FP <= 1% and FN <= 2% for every task.

    .venv/bin/python scripts/held_accuracy.py                  # full grid, writes data/ and docs/
    .venv/bin/python scripts/held_accuracy.py --seeds 3 --out /tmp/x.json --doc ''
    PYTHONPATH=/tmp/old/src .venv/bin/python scripts/held_accuracy.py --out /tmp/before.json --doc ''
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FP_BUDGET, FN_BUDGET = 0.01, 0.02
PROTOCOLS = ("p2p", "broadcast", "sfs")
NS = (2, 5, 10)


def _ensure_chatty() -> None:
    """Use this checkout's chatty team even when PYTHONPATH points silo at an older scorer."""
    try:
        import silo.agents.chatty  # noqa: F401
    except ImportError:
        import importlib.util

        import silo.agents
        for name in ("chatty_text", "chatty_truth", "chatty"):
            path = ROOT / "src" / "silo" / "agents" / f"{name}.py"
            spec = importlib.util.spec_from_file_location(f"silo.agents.{name}", path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[f"silo.agents.{name}"] = mod
            spec.loader.exec_module(mod)
            setattr(silo.agents, name, mod)


def run_cell(job: tuple[str, str, int, int]) -> list[dict]:
    """One episode: per agent, the scorer's view next to the constructed truth."""
    _ensure_chatty()
    from silo.agents.chatty import ACTION_BUDGET, MAX_ROUNDS, chatty_team
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig
    from silo.scoring import score_episode
    from silo.tasks import get_task

    task_id, protocol, n, seed = job
    inst = get_task(task_id).make_instance(n, seed)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team="chatty", suite_seed=seed,
                        max_rounds=MAX_ROUNDS, action_budget=ACTION_BUDGET)
    agents, ledger = chatty_team(inst, protocol)
    ep = run_sync(run_episode(inst, cfg, agents))
    if ep.status == "error":
        raise RuntimeError(f"{task_id} {protocol} N={n} seed={seed}: episode error {ep.error}")
    score = score_episode(ep)
    rows = []
    for got, want in zip(score.agents, ledger.final(), strict=True):
        rows.append({"task": task_id, "protocol": protocol, "n": n, "seed": seed, "agent": got.agent,
                     "solo": want["dep"] == [got.agent], "true_held": want["held"], "held": got.held,
                     "true_outcome": want["outcome"], "outcome": got.outcome, "mode": want["mode"],
                     "sole": _sole(want.get("via", {}))})
    return rows


def _sole(via: dict[str, list[str]]) -> str:
    """The kinds of content that alone informed some shard (e.g. 'set': a shard known only from a merged
    statistic); 'redundant' when every shard was informed by two kinds or more."""
    kinds = sorted({k[0] for k in via.values() if len(k) == 1})
    return "+".join(kinds) or "redundant"


def summarise(rows: list[dict], examples: bool = True) -> dict:
    """Counts and rates of one group of agent rows (solo agents counted apart)."""
    rest = [r for r in rows if not r["solo"]]
    not_held = [r for r in rest if not r["true_held"]]
    held = [r for r in rest if r["true_held"]]
    fp = sum(r["held"] for r in not_held)
    fn = sum(not r["held"] for r in held)
    mism = [r for r in rest if r["outcome"] != r["true_outcome"]]
    cases = {"fp": [_case(r) for r in not_held if r["held"]][:CASES],
             "fn": [_case(r) for r in held if not r["held"]][:CASES]}
    return {"agents": len(rest), "solo": len(rows) - len(rest), "true_held": len(held),
            "true_not_held": len(not_held), "fp": fp, "fn": fn,
            "fp_rate": round(fp / len(not_held), 5) if not_held else 0.0,
            "fn_rate": round(fn / len(held), 5) if held else 0.0,
            "outcome_mismatch": len(mism),
            "confusion": dict(Counter(f"{r['true_outcome']}->{r['outcome']}" for r in mism).most_common()),
            **({"examples": cases} if examples else {}),
            "fn_by_sole_kind": dict(Counter(r["sole"] for r in held if not r["held"]).most_common()),
            "within_budget": (fp / len(not_held) if not_held else 0) <= FP_BUDGET
            and (fn / len(held) if held else 0) <= FN_BUDGET}


CASES = 5


def _case(r: dict) -> str:
    """A reproducible case: `held_accuracy.py --show` with these arguments prints its transcript."""
    return f"{r['task']} {r['protocol']} {r['n']} {r['seed']} agent {r['agent']}"


def _delivered(e) -> list:
    """The message ids one deliver event delivered (batched events list several; older code: one msg_id)."""
    try:
        from silo.records import deliveries
    except ImportError:  # a scorer older than batched deliveries
        return [e.msg_id]
    return [m for m, _ in deliveries(e)]


def show(task_id: str, protocol: str, n: int, seed: int) -> None:
    """Print one episode's messages and files, and every agent's scorer view next to its truth."""
    _ensure_chatty()
    from silo.agents.chatty import ACTION_BUDGET, MAX_ROUNDS, chatty_team
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig
    from silo.scoring import score_episode
    from silo.tasks import get_task

    inst = get_task(task_id).make_instance(n, seed)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team="chatty", suite_seed=seed,
                        max_rounds=MAX_ROUNDS, action_budget=ACTION_BUDGET)
    agents, ledger = chatty_team(inst, protocol)
    ep = run_sync(run_episode(inst, cfg, agents))
    for e in ep.events:
        if e.kind in ("send", "write"):
            where = f"to {e.to}" if e.kind == "send" else f"file {e.path} v{e.version}"
            print(f"--- round {e.round}, agent {e.agent} {e.kind} {where} (id {e.msg_id})\n{e.content}")
        elif e.kind in ("deliver", "read"):
            print(f"    round {e.round}: agent {e.agent} {e.kind}s {_delivered(e) if e.kind == 'deliver' else e.path}")
        elif e.kind == "submit":
            print(f"=== round {e.round}, agent {e.agent} submits {json.dumps(e.args.get('answer'))[:300]}")
    for got, want in zip(score_episode(ep).agents, ledger.final(), strict=True):
        print(f"agent {got.agent}: scorer held={got.held} {got.outcome} reach={got.reach} evidence={got.evidence}"
              f" | truth held={want['held']} {want['outcome']} info={want['info']} reach={want['reach']}"
              f" mode={want['mode']}" + (f"\n    informed via {want['via']}" if got.held != want["held"] else ""))


def measure(tasks: list[str], protocols, ns, seeds: int, jobs: int, first_seed: int = 0) -> tuple[dict, float]:
    grid = [(t, p, n, s) for t in tasks for p in protocols for n in ns for s in range(first_seed, first_seed + seeds)]
    start = time.perf_counter()
    if jobs > 1:
        with Pool(jobs) as pool:
            parts = pool.map(run_cell, grid, chunksize=4)
    else:
        parts = [run_cell(j) for j in grid]
    wall = time.perf_counter() - start
    rows = [r for p in parts for r in p]
    by_task, by_cell = defaultdict(list), defaultdict(list)
    for r in rows:
        by_task[r["task"]].append(r)
        by_cell[f"{r['task']}|{r['protocol']}|{r['n']}"].append(r)
    result = {"overall": summarise(rows), "tasks": {t: summarise(by_task[t]) for t in tasks},
              "cells": {k: summarise(v, examples=False) for k, v in sorted(by_cell.items())},
              "true_outcomes": dict(Counter(r["true_outcome"] for r in rows if not r["solo"]).most_common()),
              "episodes": len(grid)}
    return result, wall


# what decides the scores and the truth: a change here is reported as "modified"
SCORER_FILES = ("scoring.py", "answer_keys.py", "answer_lookup.py", "evidence.py", "evidence_claims.py",
                "evidence_text.py", "credit.py", "replay.py", "provenance.py", "tasks", "agents")


def _meta(args, wall: float, load: tuple[float, float] | None = None) -> dict:
    import silo
    import silo.scoring

    try:
        commit = subprocess.run(["git", "-C", str(Path(silo.__file__).parent), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(Path(silo.__file__).parent), "status", "--porcelain", "--",
                                *SCORER_FILES], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "silo_path": str(Path(silo.__file__).parent),
            "commit": commit + (" (scorer files modified)" if dirty else ""),
            "scorer_version": getattr(silo.scoring, "SCORER_VERSION", None),
            "command": "scripts/held_accuracy.py " + " ".join(sys.argv[1:]),
            "seeds": args.seeds, "first_seed": args.first_seed, "protocols": args.protocols, "n": args.n,
            "jobs": args.jobs, "note": args.note, "load_1min": list(load) if load else None,
            "wall_s": round(wall, 1), "budget": {"fp": FP_BUDGET, "fn": FN_BUDGET}}


def table(result: dict, baseline: dict | None) -> str:
    head = "| task | agents | not held | FP | FP rate | held | FN | FN rate | outcome mismatches | ok |"
    if baseline:
        head += " before: FP rate | before: FN rate |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for t, s in result["tasks"].items():
        row = (f"| {t} | {s['agents']} | {s['true_not_held']} | {s['fp']} | {100 * s['fp_rate']:.1f}% | "
               f"{s['true_held']} | {s['fn']} | {100 * s['fn_rate']:.1f}% | {s['outcome_mismatch']} | "
               f"{'yes' if s['within_budget'] else '**no**'} |")
        if baseline:
            b = baseline["tasks"].get(t)
            row += f" {100 * b['fp_rate']:.1f}% | {100 * b['fn_rate']:.1f}% |" if b else " - | - |"
        lines.append(row)
    return "\n".join(lines)


BEGIN, END = "<!-- results: generated by scripts/held_accuracy.py -->", "<!-- end of results -->"


def _load(meta: dict) -> str:
    load = meta.get("load_1min")
    return f"; load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end" if load else ""


def write_doc(path: Path, data: dict) -> None:
    cur, meta, base = data["current"], data["meta"], data.get("baseline")
    o = cur["overall"]
    over = [t for t, s in cur["tasks"].items() if not s["within_budget"]]
    conf = ", ".join(f"{k} {v}" for k, v in list(o["confusion"].items())[:8])
    text = f"""## Result (generated: do not edit by hand)

Run: `{meta['command']}` on {meta['machine']}, {meta['date']}, {meta['wall_s']} s with {meta['jobs']}
processes{'; ' + meta['note'] if meta.get('note') else ''}{_load(meta)}. Scorer at `{meta['commit']}`, scorer version
{meta['scorer_version']}. Grid: {len(cur['tasks'])} tasks x {', '.join(meta['protocols'])} x N in
{{{', '.join(map(str, meta['n']))}}} x {meta['seeds']} seeds = {cur['episodes']} episodes, {o['agents']} agents
({o['true_not_held']} truly not held, {o['true_held']} truly held; {o['solo']} self-contained agents counted apart).

**Overall: FP {o['fp']} ({100 * o['fp_rate']:.2f}%), FN {o['fn']} ({100 * o['fn_rate']:.2f}%); outcome class
wrong for {o['outcome_mismatch']} agents. Tasks over budget ({len(over)}): {', '.join(over) if over else 'none'}.**
Most frequent misclassifications (true -> scored): {conf or 'none'}.
True outcome mix: {', '.join(f'{k} {v}' for k, v in cur['true_outcomes'].items())}.

{table(cur, base)}
"""
    if base:
        bm = base["meta"] if "meta" in base else {}
        bo = base["overall"]
        text += (f"\n\"before\": the same grid run and scored entirely at `{bm.get('commit', '?')}` (scorer "
                 f"version {bm.get('scorer_version')}, with that commit's task generators and chatty team"
                 f"{'; ' + base['label'] if base.get('label') else ''}): "
                 f"FP {100 * bo['fp_rate']:.2f}%, FN {100 * bo['fn_rate']:.2f}%, outcome class wrong for "
                 f"{bo['outcome_mismatch']} agents.\n")
    text += "\nPer task x protocol x N counts and example cases are in data/held_accuracy.json.\n"
    old = path.read_text() if path.exists() else f"# Held accuracy\n\n{BEGIN}\n{END}\n"
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{path}: the markers {BEGIN} ... {END} are missing")
    head, rest = old.split(BEGIN, 1)
    path.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], default=list(NS))
    ap.add_argument("--protocols", type=lambda s: s.split(","), default=list(PROTOCOLS))
    ap.add_argument("--tasks", type=lambda s: s.split(","), default=None)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "data" / "held_accuracy.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "held_accuracy.md"), help="'' to skip")
    ap.add_argument("--baseline", default=None, help="a result file of another scorer, shown as 'before'")
    ap.add_argument("--baseline-label", default="", help="what the baseline is, said in the doc")
    ap.add_argument("--show", nargs=4, metavar=("TASK", "PROTOCOL", "N", "SEED"),
                    help="print one episode (e.g. a case from the examples in the result file) and stop")
    ap.add_argument("--note", default="", help="a remark recorded with the run (e.g. the machine's load)")
    ap.add_argument("--render", default=None, help="rewrite --doc from this result file instead of running")
    args = ap.parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text())
        if args.baseline:
            b = json.loads(Path(args.baseline).read_text())
            data["baseline"] = {**b["current"], "meta": b["meta"], "label": args.baseline_label}
        write_doc(Path(args.doc), data)
        return 0
    if args.show:
        show(args.show[0], args.show[1], int(args.show[2]), int(args.show[3]))
        return 0
    _ensure_chatty()
    import silo.scoring  # noqa: F401  (loaded before the workers fork: one scorer for the whole run)
    from silo.tasks import all_tasks

    tasks = args.tasks or [t.id for t in all_tasks()]
    load0 = os.getloadavg()[0]
    result, wall = measure(tasks, args.protocols, args.n, args.seeds, args.jobs, args.first_seed)
    data = {"meta": _meta(args, wall, (load0, os.getloadavg()[0])), "current": result}
    if args.baseline:
        b = json.loads(Path(args.baseline).read_text())
        data["baseline"] = {**b["current"], "meta": b["meta"], "label": args.baseline_label}
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n")
    if args.doc:
        write_doc(Path(args.doc), data)
    o = result["overall"]
    print(f"{result['episodes']} episodes in {wall:.1f} s: "
          f"FP {o['fp']}/{o['true_not_held']} ({100 * o['fp_rate']:.2f}%), "
          f"FN {o['fn']}/{o['true_held']} ({100 * o['fn_rate']:.2f}%), outcome mismatches {o['outcome_mismatch']}")
    for t, s in result["tasks"].items():
        flag = "" if s["within_budget"] else "  OVER BUDGET"
        print(f"  {t:7s} FP {s['fp']:4d}/{s['true_not_held']:5d} {100 * s['fp_rate']:5.1f}%   "
              f"FN {s['fn']:4d}/{s['true_held']:5d} {100 * s['fn_rate']:5.1f}%{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
