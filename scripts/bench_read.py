"""Reading a run's episode files for scoring, and `silo score`: two code trees paired in one invocation.

    .venv/bin/python scripts/bench_read.py RUN_DIR --baseline-src OLD/src [--rounds 3] [--score]
    .venv/bin/python scripts/bench_read.py RUN_DIR --baseline-ref 4c6bab9 [--rounds 3] [--score]
    .venv/bin/python scripts/bench_read.py RUN_DIR --baseline-src OLD/src --as-scoring [--rounds 3]

Every figure comes from its own process. `read`: the CPU seconds (`time.process_time`) of
`episode_io.read_scored(f, SCORED_KINDS)` over every episode file of RUN_DIR (the files read once before
the clock starts, so the page cache is warm for both trees), then a SHA-256 of what was read (each
Episode's JSON), so the two trees are shown to read the same values. `--as-scoring`: each file read as
`silo score` reads it (score_jobs._score_file: its bytes stamped, then
`read_scored(f, SCORED_KINDS, raw, skip_empty_listings=True)`, then the report's facts derived with
report_facts.entry; the digest covers the entries too), for trees that have those (152d070 on).
`--score`: `silo score COPY --jobs 1`
and `silo score COPY` (default jobs) under /usr/bin/time, on a copy of RUN_DIR per tree, each followed
by scripts/compare_scores.py against RUN_DIR's own scores.jsonl. Rounds alternate which tree goes first.
Prints a markdown table with the load average at the start of each measurement.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_phases import Code, env_for, export_ref, measure, silo, working_tree  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent


def read_worker(run_dir: str, as_scoring: bool = False) -> dict:
    """CPU seconds of read_scored over every file of a run, with this process's code, and a digest."""
    import silo as pkg
    from silo import episode_io
    from silo.scoring import SCORED_KINDS

    files = episode_io.files(Path(run_dir) / "episodes")
    for f in files:
        f.read_bytes()  # warm the page cache: the clock measures decoding, not the disk
    if as_scoring:
        import numpy  # noqa: F401  (imported by scoring anyway: not part of the clock)

        from silo import event_lines, report_facts

        def read(f):
            with event_lines.gc_paused():  # as score_jobs.score_file reads a file
                raw = f.read_bytes()
                stamp = report_facts.stamp(f, raw)
                ep = episode_io.read_scored(f, SCORED_KINDS, raw, skip_empty_listings=True)
                entries.append(report_facts.entry(stamp, ep))
                return ep
    else:
        def read(f):
            return episode_io.read_scored(f, SCORED_KINDS)
    entries: list = []
    t0, w0 = time.process_time(), time.perf_counter()
    eps = [read(f) for f in files]
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    digest = hashlib.sha256()
    for ep in eps:
        digest.update(ep.model_dump_json().encode())
    digest.update(json.dumps(entries).encode())
    return {"cpu_s": cpu, "wall_s": wall, "episodes": len(eps), "events": sum(len(e.events) for e in eps),
            "sha256": digest.hexdigest()[:16], "silo": pkg.__file__}


def compare(ref: Path, copy: Path) -> str:
    p = subprocess.run([sys.executable, str(SCRIPTS / "compare_scores.py"), str(ref), str(copy)],
                       capture_output=True, text=True)
    return (p.stdout.strip().splitlines() or ["?"])[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    base = ap.add_mutually_exclusive_group(required=True)
    base.add_argument("--baseline-src", type=Path, help="the old code: a folder holding the silo package")
    base.add_argument("--baseline-ref", help="the old code: a git ref, exported with git archive")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--score", action="store_true", help="also time `silo score` (--jobs 1 and default jobs)")
    ap.add_argument("--as-scoring", action="store_true", help="read as `silo score` reads (stamp, skip, facts)")
    ap.add_argument("--work", type=Path, default=None, help="where the run copies go (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        old = Code(str(args.baseline_src), args.baseline_src.resolve()) if args.baseline_src else \
            export_ref(args.baseline_ref, tmp / "ref")
        codes = {"old": old, "new": working_tree()}
        rows = []
        for r in range(args.rounds):
            for name in (["old", "new"] if r % 2 == 0 else ["new", "old"]):
                load = os.getloadavg()[0]
                rec = worker_read(codes[name], args.run_dir, args.as_scoring)
                what = "read as scoring" if args.as_scoring else "read_scored"
                rows.append({"round": r + 1, "tree": name, "what": what, "load": load, **rec})
                print(json.dumps(rows[-1]), file=sys.stderr)
                if not args.score:
                    continue
                copy = tmp / f"run-{name}"
                if not copy.exists():
                    shutil.copytree(args.run_dir, copy)
                for jobs in (["--jobs", "1"], []):
                    rec = measure(silo(["score", str(copy), "--no-progress", *jobs]), env_for(codes[name]),
                                  codes[name].src.parent, tmp / "score.log")
                    rec["same"] = compare(args.run_dir, copy)
                    rows.append({"round": r + 1, "tree": name, "what": f"silo score {' '.join(jobs) or '(2 jobs)'}",
                                 **rec})
                    print(json.dumps(rows[-1]), file=sys.stderr)
        print(table(rows, codes))


def worker_read(code: Code, run_dir: Path, as_scoring: bool = False) -> dict:
    env = env_for(code)
    p = subprocess.run([sys.executable, __file__, "--worker", str(run_dir), *(["--as-scoring"] if as_scoring else [])],
                       env=env, cwd=code.src.parent,
                       capture_output=True, text=True)
    if p.returncode:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(rows: list[dict], codes: dict) -> str:
    out = [f"old = `{codes['old'].label}`, new = `{codes['new'].label}`", "",
           "| round | tree | what | wall s | CPU s | peak RSS MB | load (1 min) | check |",
           "|---|---|---|---|---|---|---|---|"]
    for x in rows:
        if "error" in x:
            out.append(f"| {x['round']} | {x['tree']} | {x['what']} | error: {x['error']} | | | | |")
            continue
        check = x.get("same") or f"{x['episodes']} episodes, {x['events']} events, sha256 {x['sha256']}"
        rss = f"{x['rss_mb']:.0f}" if "rss_mb" in x else ""
        out.append(f"| {x['round']} | {x['tree']} | {x['what']} | {x['wall_s']:.2f} | {x['cpu_s']:.2f} | {rss} | "
                   f"{x['load']:.2f} | {check} |")
    for what in sorted({x["what"] for x in rows}):
        cpu = {t: [x["cpu_s"] for x in rows if x["what"] == what and x["tree"] == t and "cpu_s" in x]
               for t in ("old", "new")}
        if cpu["old"] and cpu["new"]:
            ratio = min(cpu["old"]) / min(cpu["new"])
            out.append(f"\n{what}: best CPU old {min(cpu['old']):.2f} s, new {min(cpu['new']):.2f} s: {ratio:.2f}x")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--worker":
        print(json.dumps(read_worker(sys.argv[2], sys.argv[3:] == ["--as-scoring"])))
    else:
        main()
