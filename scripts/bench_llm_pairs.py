"""LLM-path overhead as paired requests: each logged request sent raw and through silo's Client back to back.

scripts/bench_llm.py pairs whole passes (raw, then client, each on a fresh server); on this shared 2-core VM a
pass's wall varies ~20% from one pass to the next, so a 1% overhead cannot be shown either way. Here the pairing
is per request, on one warm embedded server: every `act` request logged in RUN_DIR (as bench_llm.py reads them)
is sent raw once as a run would send it (the "as sent" latency: its conversation's earlier requests are in the
server's prompt cache, this one's new turn is not), then, its prompt now cached for both, the raw HTTP POST of
the body the server receives and `silo.llm.Client.complete` (litellm, retries, accounting; disk cache off) one
right after the other, the order alternating pair by pair (ABBA). `--concurrency` lanes do this at once (each
lane its own agents' requests in order), so raw and client requests share the server's load alike. The figure
is the mean paired difference (client - raw latency) with a 95% interval (normal, over pairs), in ms per
request and as % of the mean "as sent" latency (the wall a run's request takes).
Pairs whose two replies differ in output tokens are counted and left out (the same body and seed should give
the same reply).

    python scripts/bench_llm_pairs.py [RUN_DIR] [--agents 24] [--concurrency 1 12] [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llm import MODEL, WARMUP, _post, arguments, logged_conversations, raw_body  # noqa: E402
from silo import local_model  # noqa: E402
from silo.llm import Client, LLMSettings, _litellm  # noqa: E402


async def _lane(convs: list[list[dict]], url: str, settings: LLMSettings, start: int) -> list[dict]:
    """One lane's pairs: each request raw and through the Client, the order alternating (ABBA)."""
    out, k = [], start

    async def raw(r: dict) -> tuple[float, int]:
        t0 = time.perf_counter()
        usage = (await asyncio.to_thread(_post, url, raw_body(r)))["usage"]
        return time.perf_counter() - t0, int(usage["completion_tokens"])

    async def client(r: dict) -> tuple[float, int]:
        c = Client(settings, r["sampling"].get("seed", 1000) - 1000)
        t0 = time.perf_counter()
        reply = await c.complete(r["messages"], None, r["fmt"])
        return time.perf_counter() - t0, reply.output_tokens

    for conv in convs:
        for r in conv:
            sent, _ = await raw(r)  # as a run sends it; after it, the prompt is cached for both of the pair
            if k % 2 == 0:
                (rl, rt), (cl, ct) = await raw(r), await client(r)
            else:
                (cl, ct), (rl, rt) = await client(r), await raw(r)
            out.append({"sent_s": sent, "raw_s": rl, "client_s": cl, "same_reply": rt == ct, "raw_first": k % 2 == 0})
            k += 1
    return out


async def _run(convs: list[list[dict]], concurrency: int, rounds: int) -> list[dict]:
    url = f"{local_model.resolve(MODEL)[1]}/chat/completions"
    # raw posts run in threads: the default pool (cores + 4 = 6 here) would queue a lane's raw request behind
    # others' at concurrency 12 while its client request never waits; a thread for each lane's request
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(concurrency + 2))
    first = convs[0][0]["sampling"]
    settings = LLMSettings(model=MODEL, cache=False, concurrency=concurrency, timeout_s=600.0,
                           max_tokens=first["max_tokens"])
    await asyncio.to_thread(_post, url, raw_body(WARMUP))
    await Client(settings).complete(WARMUP["messages"])  # the first litellm call pays its lazy imports: not timed
    lanes = [convs[i::concurrency] for i in range(concurrency)]
    pairs: list[dict] = []
    for rnd in range(rounds):
        done = await asyncio.gather(*(_lane(lane, url, settings, i + rnd) for i, lane in enumerate(lanes) if lane))
        pairs += [p for lane in done for p in lane]
    return pairs


def summary(pairs: list[dict], concurrency: int) -> dict:
    kept = [p for p in pairs if p["same_reply"]]
    d = [(p["client_s"] - p["raw_s"]) * 1000 for p in kept]
    raw = statistics.mean(p["sent_s"] for p in kept) * 1000
    cached = statistics.mean(p["raw_s"] for p in kept) * 1000
    mean, half = statistics.mean(d), 1.96 * statistics.stdev(d) / len(d) ** 0.5
    order = {first: statistics.mean((p["client_s"] - p["raw_s"]) * 1000 for p in kept if p["raw_first"] == first)
             for first in (True, False)}
    return {"concurrency": concurrency, "pairs": len(pairs), "kept": len(kept),
            "sent_mean_ms": round(raw, 1), "cached_raw_ms": round(cached, 1),
            "diff_ms": round(mean, 2), "ci_ms": [round(mean - half, 2), round(mean + half, 2)],
            "pct": round(100 * mean / raw, 2), "ci_pct": [round(100 * (mean - half) / raw, 2),
                                                          round(100 * (mean + half) / raw, 2)],
            "diff_ms_raw_first": round(order[True], 1), "diff_ms_client_first": round(order[False], 1)}


def render(rows: list[dict], cmd: str, load: tuple[float, float]) -> str:
    lines = [f"Command: `{cmd}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};"
             f" load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.", "",
             "| concurrency | pairs (same reply) | request as sent / cached, raw | client - raw, mean (95% interval) |"
             " as % of a request as sent | raw first / client first |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['concurrency']} | {r['pairs']} ({r['kept']}) | "
                     f"{r['sent_mean_ms']:.0f} / {r['cached_raw_ms']:.0f} ms | "
                     f"{r['diff_ms']:+.1f} ms ({r['ci_ms'][0]:+.1f} to {r['ci_ms'][1]:+.1f}) | "
                     f"{r['pct']:+.2f}% ({r['ci_pct'][0]:+.2f} to {r['ci_pct'][1]:+.2f}) | "
                     f"{r['diff_ms_raw_first']:+.0f} / {r['diff_ms_client_first']:+.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--rounds", type=int, default=2, help="times every request is paired, per concurrency")
    ap.add_argument("--json", help="write the pairs and summaries here")
    args = ap.parse_args()
    convs = logged_conversations(args.run_dir, args.agents)
    _litellm()
    load0, rows, raw = os.getloadavg()[0], [], {}
    try:
        for conc in args.concurrency:
            pairs = asyncio.run(_run(convs, conc, args.rounds))
            raw[conc] = pairs
            rows.append(summary(pairs, conc))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        local_model.close_all()
    cmd = "python scripts/bench_llm_pairs.py " + " ".join(sys.argv[1:])
    print(render(rows, cmd, (load0, os.getloadavg()[0])))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "pairs": raw}))


if __name__ == "__main__":
    main()
