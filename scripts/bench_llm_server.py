"""Embedded-server settings, paired: the same logged requests replayed raw against servers started differently.

Requests are the `act` calls logged in a run directory (as scripts/bench_llm.py reads them: messages
rebuilt with `replay_messages`, the same response schema, sampling and seed), sent as HTTP POSTs
(no litellm, no silo Client), each agent's calls in order and `--concurrency` agents at once, as
in a run. Each variant is one server configuration:

  base                 the server as silo starts it (silo.local_model.server_params)
  key=value[,k=v]      xllamacpp CommonParams fields set on top (e.g. flash_attn_type=1, n_ubatch=64),
                       plus three of this script's own: grammar=0 (send no grammar), slots=N, threads=N

Every pass starts a fresh server (cold prompt cache) and the variants alternate, `--repeats` rounds
in rotating order, so a drift in machine load favours none. Per pass it records the wall time, this
process's CPU time (the server runs in process: its threads are counted) and the server's own
per-request timings (prompt tokens and ms, predicted tokens and ms), summed. On a shared machine
judge by CPU and by the server's ms per token of each variant relative to base in the same round.

    python scripts/bench_llm_server.py RUN_DIR [--agents 6] [--concurrency 6] [--repeats 2]
        [--variant base --variant flash_attn_type=0 ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llm import _in_parallel, _post, logged_conversations, raw_body  # noqa: E402
from silo import local_model  # noqa: E402

OWN_KEYS = ("grammar", "slots", "threads")


def parse_variant(text: str) -> dict:
    """'base' or 'k=v,k=v' -> {field: value}; values read as JSON where they parse (1, 0.5, true), else strings."""
    if text == "base":
        return {}
    out = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"variant {text!r}: expected base or key=value[,key=value]")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def one_pass(convs: list[list[dict]], concurrency: int, variant: dict) -> dict:
    """A fresh server with the variant's settings, every request once; wall, CPU and server timings."""
    base = local_model.ServerSettings.from_env()
    settings = local_model.ServerSettings(slots=int(variant.get("slots", base.slots)), ctx_per_slot=base.ctx_per_slot,
                                          threads=int(variant.get("threads", base.threads)))
    overrides = {k: v for k, v in variant.items() if k not in OWN_KEYS}
    grammar = bool(variant.get("grammar", 1))
    srv = local_model.LocalServer("smollm2-135m", settings, overrides)
    url = f"{srv.start()}/chat/completions"
    sums = {"prompt_n": 0, "prompt_ms": 0.0, "predicted_n": 0, "predicted_ms": 0.0}

    def one(r: dict) -> tuple[float, int]:
        t0 = time.perf_counter()
        out = _post(url, raw_body(r if grammar else {**r, "fmt": None}))
        for k in sums:
            sums[k] += out["timings"][k]
        return time.perf_counter() - t0, int(out["usage"]["completion_tokens"])

    try:
        _post(url, raw_body({"messages": [{"role": "user", "content": "Say hi."}], "fmt": None,
                             "sampling": {"max_tokens": 1, "seed": 1000}}))
        cpu0, t0 = time.process_time(), time.perf_counter()
        res = _in_parallel(convs, concurrency, one)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        srv.close()
    return {"requests": len(res), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "prompt_tokens": sums["prompt_n"],
            "prompt_ms_per_token": round(sums["prompt_ms"] / max(1, sums["prompt_n"]), 2),
            "output_tokens": sums["predicted_n"],
            "predicted_ms_per_token": round(sums["predicted_ms"] / max(1, sums["predicted_n"]), 2),
            "cpu_ms_per_token": round(1000 * cpu / max(1, sums["prompt_n"] + sums["predicted_n"]), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--agents", type=int, default=6, help="conversations replayed (the first agents of the run)")
    ap.add_argument("--calls", type=int, default=0, help="at most this many calls per conversation (0: all)")
    ap.add_argument("--concurrency", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--variant", action="append", default=None, help="base or key=value[,key=value] (repeatable)")
    ap.add_argument("--json", default=None, help="append one JSON line per pass to this file")
    a = ap.parse_args()
    convs = logged_conversations(a.run_dir, a.agents)
    if a.calls:
        convs = [c[:a.calls] for c in convs]
    names = a.variant or ["base"]
    variants = [(n, parse_variant(n)) for n in names]
    print(f"{sum(map(len, convs))} requests of {len(convs)} agents, concurrency {a.concurrency}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    for i in range(a.repeats):
        k = i % len(variants)
        for name, variant in variants[k:] + variants[:k]:
            res = {"variant": name, "round": i + 1, "load": round(os.getloadavg()[0], 1),
                   **one_pass(convs, a.concurrency, variant)}
            print(json.dumps(res), flush=True)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
