"""Harness benchmarks: how fast silo runs, scores and reports without any model in the loop.

    .venv/bin/python scripts/bench_harness.py [--quick] [--out docs/benchmarks.md]

1. the full reference grid (tasks/silo-bench.toml) with the five scripted teams;
2. a stress episode: N = 100 agents broadcasting and reading every round for 100 rounds.
Results (with machine facts and the command) are written to the section of docs/benchmarks.md
between the HARNESS markers; the LLM-path section is written by scripts/bench_llm.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from silo.episode import run_episode
from silo.records import Action, EpisodeConfig
from silo.report import summary, to_markdown
from silo.runner import RunDir, expand, run_specs, score_run
from silo.scoring import score_episode
from silo.suite import load_suite
from silo.tasks import get_task

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
LOAD_AT_START = os.getloadavg()[0]
TEAMS = ["oracle", "gossip", "premature", "miscompute", "silent"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_grid(quick: bool) -> dict:
    """Run, score and report the reference grid with every scripted team."""
    rc = load_suite("silo-bench").model_copy(update={"teams": TEAMS})
    if quick:
        rc = rc.model_copy(update={"n_agents": [1, 2, 5, 10]})
    specs = expand(rc)
    with tempfile.TemporaryDirectory() as tmp:
        rd = RunDir(tmp)
        rd.init(rc)
        t0 = time.perf_counter()
        asyncio.run(run_specs(specs, rd, concurrency=1))
        t_run = time.perf_counter() - t0
        turns = events = 0
        for ep in rd.episodes():
            turns += len({(e.round, e.agent) for e in ep.events if e.agent >= 0})
            events += len(ep.events)
        disk = sum(f.stat().st_size for f in rd.episode_files())
        t0 = time.perf_counter()
        scores = score_run(rd)
        t_score = time.perf_counter() - t0
        t0 = time.perf_counter()
        to_markdown(summary(scores))
        t_report = time.perf_counter() - t0
    return {"episodes": len(specs), "run_s": t_run, "eps_per_s": len(specs) / t_run, "turns": turns,
            "turns_per_s": turns / t_run, "events": events, "disk_mb": disk / 1e6, "score_s": t_score,
            "report_s": t_report, "peak_mb": _peak_mb()}


class Chatter:
    """Load generator: reads its mailbox and broadcasts a short message every round, never submits."""

    async def take_turn(self, turn) -> None:
        turn.do(Action(name="receive_messages"))
        turn.do(Action(name="broadcast_message", args={"content": f"agent {turn.agent} round {turn.round}"}))
        turn.do(Action(name="wait"))


def bench_stress(n: int = 100, rounds: int = 100) -> dict:
    """N agents x R rounds of broadcast chatter: the engine's and scorer's worst everyday case."""
    inst = get_task("I-01").make_instance(n)
    cfg = EpisodeConfig(task="I-01", n_agents=n, protocol="broadcast", team="chatter", max_rounds=rounds)
    t0 = time.perf_counter()
    ep = asyncio.run(run_episode(inst, cfg, [Chatter() for _ in range(n)]))
    t_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_episode(ep)
    t_score = time.perf_counter() - t0
    deliveries = sum(e.kind == "deliver" for e in ep.events)
    return {"n": n, "rounds": ep.rounds, "events": len(ep.events), "deliveries": deliveries, "run_s": t_run,
            "score_s": t_score, "json_mb": len(ep.model_dump_json()) / 1e6, "peak_mb": _peak_mb()}


def render(grid: dict, stress: dict, quick: bool) -> str:
    cmd = "python scripts/bench_harness.py" + (" --quick" if quick else "")
    return "\n".join([
        "<!-- HARNESS:BEGIN -->",
        "## Harness (scripted teams, no model)",
        "",
        f"Command: `{cmd}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {LOAD_AT_START:.1f} when it started (other work on the machine slows these numbers).",
        "",
        f"**Reference grid{' (N <= 10 only)' if quick else ''}** x 5 scripted teams, one process, one core:",
        "",
        "| episodes | run | episodes/s | agent-turns | agent-turns/s | events | on disk | score | report | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {grid['episodes']:,} | {grid['run_s']:.1f} s | {grid['eps_per_s']:.1f} | {grid['turns']:,} | "
        f"{grid['turns_per_s']:,.0f} | {grid['events']:,} | {grid['disk_mb']:.0f} MB | {grid['score_s']:.1f} s | "
        f"{grid['report_s']:.2f} s | {grid['peak_mb']:.0f} MB |",
        "",
        f"**Stress**: N = {stress['n']} agents broadcasting and reading every round for {stress['rounds']} rounds:",
        "",
        "| events | deliveries | run | score | episode JSON | peak RSS |",
        "|---|---|---|---|---|---|",
        f"| {stress['events']:,} | {stress['deliveries']:,} | {stress['run_s']:.1f} s | {stress['score_s']:.1f} s | "
        f"{stress['json_mb']:.0f} MB | {stress['peak_mb']:.0f} MB |",
        "<!-- HARNESS:END -->",
    ])


def write_section(text: str, begin: str, end: str) -> None:
    """Replace (or append) one marked section of docs/benchmarks.md."""
    intro = "# Benchmarks\n\nNumbers produced by the scripts named in each section.\n"
    doc = DOC.read_text() if DOC.exists() else intro
    if begin in doc:
        head, rest = doc.split(begin, 1)
        doc = head + text + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    DOC.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="grid with N <= 10 only")
    args = ap.parse_args()
    stress = bench_stress()
    print(f"stress: {stress}")
    grid = bench_grid(args.quick)
    print(f"grid: {grid}")
    write_section(render(grid, stress, args.quick), "<!-- HARNESS:BEGIN -->", "<!-- HARNESS:END -->")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
