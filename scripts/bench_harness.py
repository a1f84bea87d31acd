"""Harness benchmarks: how fast silo runs, scores, reports and views without any model in the loop.

    .venv/bin/python scripts/bench_harness.py [--baseline-ref c759050] [--ref HEAD] [--bench grid,stress,scale]
                                              [--quick] [--json FILE] [--write]

Cases (each a `silo` command line, run once with the previous release's code and once with this code,
alternating which goes first, so every figure has a paired ratio measured under the same load):
- grid    the reference grid (tasks/silo-bench.toml) with the oracle team: run, score, report;
- grid5   the same with five scripted teams (opt-in: --bench grid5);
- stress  N = 100 agents broadcasting and reading every round for 100 rounds (scripts/bench_chatter.py);
- scale   the cost vs N curve: gossip over broadcast and oracle star reduce over p2p on I-01 at
          N = 10, 100, 1,000 (and III-21 star reduce at 1,000); every run is viewed (`silo view`), the
          N = 1,000 ones are opened in headless Chromium too; each records its episodes' status and rounds
          (an episode stopped at R_max is work cut short: the star over p2p at N = 1,000 is one).
Each phase is its own process under /usr/bin/time -v (scripts/bench_phases.py): wall, user+sys CPU
and peak RSS are that phase's own. With --write the markdown goes between the HARNESS markers of
docs/benchmarks.md; the LLM-path section is written by scripts/bench_llm.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from bench_phases import ROOT, Code, dir_mb, env_for, export_ref, measure, silo, worker, working_tree
from bench_render import render

DOC = ROOT / "docs" / "benchmarks.md"
GRID5 = "oracle,gossip,premature,miscompute,silent"


def cases(bench: set[str], quick: bool) -> list[dict]:
    """The command lines measured; `phases` after `run` work on its run directory."""
    grid_n = ["--n", "2,5"] if quick else []
    out = []
    if "grid" in bench:
        out.append({"case": "grid", "title": "Reference grid, oracle team",
                    "run": ["run", "--suite", "silo-bench", "--team", "oracle", "--concurrency", "1", *grid_n],
                    "phases": ["score", "report"]})
    if "grid5" in bench:
        out.append({"case": "grid5", "title": "Reference grid, five scripted teams",
                    "run": ["run", "--suite", "silo-bench", "--team", GRID5, "--concurrency", "1", *grid_n],
                    "phases": ["score", "report"]})
    if "stress" in bench:
        n, r = ("20", "20") if quick else ("100", "100")
        out.append({"case": "stress", "title": f"Stress: N = {n} broadcasting every round for {r} rounds",
                    "run": ["--plugin", "bench_chatter", "run", "--task", "I-01", "--n", n, "--protocol", "broadcast",
                            "--team", "chatter", "--max-rounds", r], "phases": ["score"]})
    if "scale" in bench:
        ns = (10, 50) if quick else (10, 100, 1000)
        combos = (("gossip", "broadcast", "I-01"), ("oracle", "p2p", "I-01"), ("oracle", "p2p", "III-21"))
        for team, proto, task in combos:
            for n in ns:
                if task == "III-21" and n != ns[-1]:
                    continue
                big = n == ns[-1]
                out.append({"case": f"{task}-{team}-{proto}-n{n}", "title": f"{task} {team} over {proto}, N = {n:,}",
                            "curve": (task, team, proto, n),
                            "run": ["run", "--task", task, "--n", str(n), "--protocol", proto, "--team", team],
                            "phases": ["score", "view", "open"] if big else ["score", "view"]})
    return out


def phase_argv(phase: str, d: Path) -> list[str]:
    if phase == "score":
        return silo(["score", str(d)])
    if phase == "report":
        return silo(["report", str(d), "-o", str(d / "report")])
    if phase == "view":
        return silo(["view", str(d), "-o", str(d / "viewer.html")])
    raise ValueError(phase)


def run_side(case: dict, code: Code, tmp: Path, log: Path, cap: float) -> dict:
    """Every phase of one case with one code tree, each in its own process."""
    d = tmp / f"{case['case']}-{code.label[:7]}"
    env, cwd = env_for(code), code.src.parent
    res = {"phases": {}}
    res["phases"]["run"] = measure(silo([*case["run"], "--no-progress", "-o", str(d)]), env, cwd, log, cap)
    if res["phases"]["run"]["rc"]:  # killed at the memory cap, or failed: later phases have nothing to read
        tail = log.read_text(errors="replace").strip().splitlines()[-2:]
        print(f"warning: {case['case']} with {code.label}: silo run exited {res['phases']['run']['rc']}: "
              + " | ".join(tail), flush=True)
        shutil.rmtree(d, ignore_errors=True)
        return res
    res["disk_mb"] = dir_mb(d)
    res["episodes_mb"] = dir_mb(d / "episodes") if (d / "episodes").is_dir() else None
    for ph in case["phases"]:
        if ph == "open":
            res["open"] = worker(code, "open", str(d / "viewer.html"))
            continue
        res["phases"][ph] = measure(phase_argv(ph, d), env, cwd, log, cap)
    res.update(worker(code, "count", str(d)))
    res["status"] = episode_status(d)
    shutil.rmtree(d, ignore_errors=True)
    return res


def episode_status(d: Path) -> str:
    """The scored episodes' status and rounds, e.g. "complete, 12 rounds" or "max_rounds, 100 rounds"."""
    f = d / "scores.jsonl"
    if not f.exists():
        return "not scored"
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    seen = sorted({(r.get("status"), r.get("rounds")) for r in rows}, key=str)
    return "; ".join(f"{st}, {n} rounds" for st, n in seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-ref", default="c759050", help="git ref of the previous release to pair against")
    ap.add_argument("--baseline-src", help="use this src/ folder as the baseline instead of exporting the ref")
    ap.add_argument("--no-baseline", action="store_true", help="measure this code only (no ratios)")
    ap.add_argument("--only-baseline", action="store_true", help="measure the baseline only (a 'before' record)")
    ap.add_argument("--ref", help="measure this git ref (exported) instead of the working tree")
    ap.add_argument("--bench", default="grid,stress,scale", help="comma-separated: grid, grid5, stress, scale")
    ap.add_argument("--quick", action="store_true", help="small sizes (to try the script)")
    ap.add_argument("--max-rss-mb", type=float, default=4000, help="stop a phase whose RSS passes this (MB)")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    ap.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    ap.add_argument("--render", metavar="JSON", nargs="+",
                    help="only render (and --write) the results saved by earlier --json runs (one section)")
    args = ap.parse_args()
    if args.render:
        return emit(render([json.loads(Path(f).read_text()) for f in args.render]), args.write)
    with tempfile.TemporaryDirectory(prefix="silo-bench-") as t:
        tmp = Path(t)
        cur = export_ref(args.ref, tmp / "cur") if args.ref else working_tree()
        base = None
        if not args.no_baseline:
            base = (Code(Path(args.baseline_src).resolve().parent.name, Path(args.baseline_src).resolve())
                    if args.baseline_src else export_ref(args.baseline_ref, tmp / "base"))
        log = Path(args.json or tmp / "x").with_suffix(".log")
        meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                "load_start": os.getloadavg(), "current": cur.label, "baseline": base.label if base else None,
                "argv": ["python", "scripts/bench_harness.py", *os.sys.argv[1:]], "quick": args.quick, "results": []}
        for i, case in enumerate(cases(set(args.bench.split(",")), args.quick)):
            sides = ([] if args.only_baseline else [("current", cur)]) + ([("baseline", base)] if base else [])
            if i % 2 == 0:
                sides.reverse()  # alternate which code goes first, so drifting load does not favour one side
            rec = {k: v for k, v in case.items() if k != "phases"}
            for name, code in sides:
                rec[name] = run_side(case, code, tmp, log, args.max_rss_mb)
                print(f"{case['case']} [{name}]: " + ", ".join(
                    f"{p} {m['wall_s']:.1f}s {m['rss_mb']:.0f}MB rc={m['rc']}" for p, m in rec[name]["phases"].items()),
                    flush=True)
            meta["results"].append(rec)
            if args.json:
                Path(args.json).write_text(json.dumps(meta, indent=1, default=str))
        meta["load_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(meta, indent=1, default=str))
    emit(render([meta]), args.write)


def emit(text: str, write: bool) -> None:
    print(text)
    if write:
        write_section(text, "<!-- HARNESS:BEGIN -->", "<!-- HARNESS:END -->")
        print(f"wrote {DOC}")


def write_section(text: str, begin: str, end: str) -> None:
    """Replace (or append) one marked section of docs/benchmarks.md."""
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin in doc:
        head, rest = doc.split(begin, 1)
        doc = head + text + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    DOC.write_text(doc)


if __name__ == "__main__":
    main()
