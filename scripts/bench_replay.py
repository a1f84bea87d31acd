"""The scorer's replay on one episode: peak RSS and CPU, this code paired against another source tree.

    python scripts/bench_replay.py I-01 p2p:grid 300 gossip [--vs OLD_SRC] [--pairs 3] [--json FILE]

Each measurement is its own process (`--worker`): it runs the scripted team's episode, then
`Replay(task, instance).run(events)` (what `silo score` does per episode, without the rows), and prints the peak RSS
after the engine and after the replay (ru_maxrss: the replay's share is the difference, on top of the episode it
reads) and the replay's CPU seconds. With `--vs OLD_SRC` (e.g. a `git archive REF src | tar -x -C DIR` copy's
DIR/src) each pair runs old and new in turn, order alternating (ABBA), and reports new/old for the replay's CPU: a
ratio is stable on a shared machine, an absolute time is not. Both must give the same reach and evidence at submit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def worker(task: str, protocol: str, n: int, team: str) -> None:
    from silo.agents.scripted import scripted_team
    from silo.episode import run_episode, run_sync
    from silo.records import EpisodeConfig
    from silo.replay import Replay
    from silo.tasks import get_task

    spec = get_task(task)
    inst = spec.make_instance(n, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team, suite_seed=0)
    ep = run_sync(run_episode(inst, cfg, scripted_team(team, inst, protocol)))
    engine_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.process_time()
    rep = Replay(spec, inst).run(ep.events)
    cpu = time.process_time() - t
    held = sorted((a, tuple(sorted(r)), tuple(sorted(e))) for a, (r, e) in rep.at_submit.items())
    print(json.dumps({"events": len(ep.events), "engine_rss_mb": round(engine_mb), "replay_cpu_s": round(cpu, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "at_submit": hash(tuple(held))}))


def measure(src: str, cell: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=src, LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1")
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--worker", *cell], env=env, capture_output=True, text=True,
                         check=True).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "load": load, "src": src}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task")
    ap.add_argument("protocol")
    ap.add_argument("n", type=int)
    ap.add_argument("team")
    ap.add_argument("--vs", help="the other code's src directory (paired, ABBA)")
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--json", help="append one JSON line per measurement to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.task, a.protocol, a.n, a.team)
    cell = [a.task, a.protocol, str(a.n), a.team]
    ratios = []
    for k in range(a.pairs):
        order = [("new", SRC), ("old", a.vs)] if a.vs else [("new", SRC)]
        got = {}
        for name, src in (order if k % 2 == 0 else order[::-1]):
            got[name] = r = measure(src, cell)
            print(f"{name}: replay {r['replay_cpu_s']} s CPU, peak RSS {r['peak_rss_mb']} MB (engine "
                  f"{r['engine_rss_mb']} MB), {r['events']:,} events, load {r['load']:.1f}", flush=True)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps({"cell": cell, "code": name, **r}) + "\n")
        if a.vs:
            if got["new"]["at_submit"] != got["old"]["at_submit"]:
                sys.exit("error: old and new give different reach or evidence at submit")
            ratios.append(got["new"]["replay_cpu_s"] / got["old"]["replay_cpu_s"])
            print(f"pair {k + 1}: replay CPU new/old {ratios[-1]:.3f}", flush=True)
    if ratios:
        print(f"new/old replay CPU over {len(ratios)} pairs: median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main()
