"""Conformance cells at large N, one reference team per process: verdict, wall, CPU, peak RSS, phases.

    .venv/bin/python scripts/bench_conformance.py I-01/p2p/1000 III-21/broadcast/1000 I-01/p2p:tree3/1000 \
        [--teams oracle,gossip,premature,miscompute,silent] [--timeout 900] [--max-rss-mb 4000] [--json FILE]

A cell is TASK/PROTOCOL/N, the same check as the cell `TASK-PROTOCOL-N` of tests/test_conformance.py or
tests/test_conformance_structure.py with SILO_CONFORMANCE_N=N (silo.conformance.check_reference for each
reference team; the cell passes when every team has no problem). Each team runs in its own process under
/usr/bin/time, so wall, user + system CPU and peak RSS are that team's own; inside it the engine
(`run_episode`) and the scorer (`score_episode`) are timed apart (CPU seconds), with the episode's events,
deliveries and rounds. A team still running at --timeout (or past --max-rss-mb) gets SIGUSR1 first, which
dumps its Python stack (faulthandler) to say where it was, then is killed: recorded as stopped, not failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEAMS = "oracle,gossip,premature,miscompute,silent"
TIME = "/usr/bin/time"


def worker(task: str, protocol: str, n: int, team: str) -> None:
    """One team on one cell in this process; prints phase markers, then one JSON line."""
    import faulthandler

    from silo import conformance
    from silo.records import deliveries

    faulthandler.register(signal.SIGUSR1, all_threads=False)
    info: dict = {}
    run_sync, score_episode = conformance.run_sync, conformance.score_episode

    def timed_run(coro):
        print(f"phase engine start {time.time():.1f}", flush=True)
        t = time.process_time()
        ep = run_sync(coro)
        info["engine_cpu_s"] = time.process_time() - t
        info["events"] = len(ep.events)
        info["deliveries"] = sum(len(deliveries(e)) for e in ep.events if e.kind == "deliver")
        info["sends"] = sum(e.kind == "send" for e in ep.events)
        print(f"phase score start {time.time():.1f}", flush=True)
        return ep

    def timed_score(ep):
        t = time.process_time()
        s = score_episode(ep)
        info["score_cpu_s"] = time.process_time() - t
        info["rounds"], info["status"] = s.rounds, s.status
        return s

    conformance.run_sync, conformance.score_episode = timed_run, timed_score
    problems = conformance.check_reference(task, protocol, n, team)
    print(json.dumps({"problems": problems, **info}), flush=True)


def _time_fields(text: str) -> dict:
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", text)
    if not m:
        return {}
    return {"wall_s": float(m[1]), "cpu_s": float(m[2]) + float(m[3]), "rss_mb": int(m[4]) / 1024}


def run_team(cell: tuple[str, str, int], team: str, timeout: float, cap_mb: float) -> dict:
    """One team of one cell in its own process under /usr/bin/time, stopped at the timeout or the RSS cap."""
    import psutil
    task, protocol, n = cell
    argv = [TIME, "-f", "TIME %e %U %S %M", sys.executable, __file__, "--worker", task, protocol, str(n), team]
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        stopped = None
        while p.poll() is None:
            try:
                kids = psutil.Process(p.pid).children(recursive=True)
                rss = sum(k.memory_info().rss for k in kids) / 2**20
            except psutil.Error:
                kids, rss = [], 0
            over = "timeout" if time.perf_counter() - t0 > timeout else "rss cap" if rss > cap_mb else None
            if over and kids:
                stopped = f"{over} ({time.perf_counter() - t0:.0f} s, {rss:.0f} MB)"
                for k in kids:
                    k.send_signal(signal.SIGUSR1)  # faulthandler: where it was
                time.sleep(2)
                for k in kids:
                    k.kill()
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rec = {"team": team, "load": load, "wall_s": wall, "stopped": stopped, "rc": p.returncode}
    rec.update(_time_fields(stderr))
    phases = re.findall(r"^phase (\w+) start", stdout, re.M)
    rec["last_phase"] = phases[-1] if phases else None
    lines = [x for x in stdout.splitlines() if x.startswith("{")]
    if lines:
        rec.update(json.loads(lines[-1]))
    elif stopped or p.returncode:
        rec["stack"] = [x.strip() for x in stderr.splitlines() if x.strip().startswith("File ")][:12]
        rec["error"] = (stderr.strip().splitlines() or ["?"])[-1][:300]
    return rec


def parse_cell(text: str) -> tuple[str, str, int]:
    task, protocol, n = text.split("/")
    return task, protocol, int(n)


def verdict(recs: list[dict]) -> str:
    if any(r.get("problems") for r in recs):
        return "**failed**"
    if any(r.get("stopped") or r.get("rc") or "problems" not in r for r in recs):
        return "not finished"
    return "passed"


def fmt(x, spec: str = ".1f") -> str:
    return "" if x is None else format(x, spec)


HEADER = ("| cell | team | result | wall | CPU (user + sys) | peak RSS | engine / scorer CPU | events | deliveries "
          "| load |\n|---|---|---|---|---|---|---|---|---|---|")


def result_text(r: dict) -> str:
    if r.get("stopped"):
        return f"stopped: {r['stopped']}, in the {r.get('last_phase') or 'setup'} phase"
    if r.get("problems"):
        return "; ".join(r["problems"])[:200]
    return "ok" if "problems" in r else f"error rc={r.get('rc')}: {r.get('error', '')}"


def table(results: list[dict]) -> str:
    rows = [HEADER]
    for c in results:
        for r in c["teams"]:
            g = r.get
            rows.append(f"| {c['cell']} | {r['team']} | {result_text(r)} | {fmt(g('wall_s'))} s | "
                        f"{fmt(g('cpu_s'))} s | {fmt(g('rss_mb'), '.0f')} MB | "
                        f"{fmt(g('engine_cpu_s'), '.2f')} / {fmt(g('score_cpu_s'), '.2f')} s | "
                        f"{fmt(g('events'), ',')} | {fmt(g('deliveries'), ',')} | {r['load']:.1f} |")
        wall, cpu = (sum(r.get(k) or 0 for r in c["teams"]) for k in ("wall_s", "cpu_s"))
        rss = max(r.get("rss_mb") or 0 for r in c["teams"])
        rows.append(f"| **{c['cell']}** | all | {c['verdict']} | {wall:.0f} s | {cpu:.0f} s | {rss:.0f} MB | | | | |")
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        task, protocol, n, team = sys.argv[2:6]
        return worker(task, protocol, int(n), team)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells", nargs="+", type=parse_cell, help="TASK/PROTOCOL/N, e.g. I-01/p2p:tree3/1000")
    ap.add_argument("--teams", default=TEAMS, help="comma-separated reference teams (default: all five)")
    ap.add_argument("--timeout", type=float, default=900, help="stop a team after this many seconds of wall")
    ap.add_argument("--max-rss-mb", type=float, default=4000, help="stop a team whose RSS passes this (MB)")
    ap.add_argument("--json", help="write the raw results here (rewritten after every team)")
    args = ap.parse_args()
    if not os.path.exists(TIME):
        raise SystemExit(f"error: {TIME} not found (Debian: apt-get install time)")
    results = []
    for cell in args.cells:
        rec = {"cell": "-".join(map(str, cell)), "teams": []}
        results.append(rec)
        for team in args.teams.split(","):
            r = run_team(cell, team, args.timeout, args.max_rss_mb)
            rec["teams"].append(r)
            rec["verdict"] = verdict(rec["teams"])
            print(f"{rec['cell']} {team}: {result_text(r)}, {fmt(r.get('wall_s'))} s wall, "
                  f"{fmt(r.get('cpu_s'))} s CPU, {fmt(r.get('rss_mb'), '.0f')} MB", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
