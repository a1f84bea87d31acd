"""LLM-path overhead split inside each request: the client's wall minus the time its HTTP request is on the wire.

scripts/bench_llm_pairs.py pairs a raw request with a client request; at 12 lanes the two meet different loads
from the other lanes (a pair's difference has a stdev of ~1.2 s against a 2.8-6.9 s request), so a 1% cost is
not shown either way there. This script measures the cost on the same request instead: every `act` request
logged in RUN_DIR (as bench_llm.py reads them) goes through `silo.llm.Client.complete` (litellm, retries,
accounting; disk cache off) at `--concurrency` lanes on one warm embedded server, and `httpx.AsyncClient.send`
(where litellm's handler puts the request on the wire and reads the whole reply) is timed per request:

  overhead  = client wall - time inside httpx's send (silo + litellm before the send and after the reply);
  loop lag  = how late a callback runs on the event loop (a 20 ms sleeper's overshoot, sampled throughout):
              what a reply that has arrived waits while other lanes' client work holds the loop, which the
              send's interval cannot tell from the wire. Counted twice per request (headers and body).

The estimate per request is overhead + 2 x mean loop lag, as % of the mean client wall, with a 95% interval
(normal, over requests; the lag's mean is taken as exact). What remains outside it: httpx's own cost inside
send (a raw POST has its own, compared at concurrency 1 by bench_llm_pairs.py), and the CPU the client takes
from the server's cores: bounded by the event loop thread's CPU time over the phase (the client's work all runs
on that thread; the embedded server's threads are not counted), as a share of the machine's cores.

    python scripts/bench_llm_split.py [RUN_DIR] [--agents 24] [--concurrency 1 12] [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx  # noqa: E402

from bench_llm import MODEL, WARMUP, arguments, logged_conversations  # noqa: E402
from silo import local_model  # noqa: E402
from silo.llm import Client, LLMSettings, _litellm  # noqa: E402

_WIRE: contextvars.ContextVar[list | None] = contextvars.ContextVar("wire", default=None)
LAG_TICK = 0.02  # 50 wake-ups a second: the sampler's own loop CPU stays small beside the client's


def _time_sends() -> None:
    """Time every httpx.AsyncClient.send into the calling request's list (wait_for's task copies the context)."""
    send = httpx.AsyncClient.send

    async def timed(self, request, **kwargs):
        t0 = time.perf_counter()
        try:
            return await send(self, request, **kwargs)
        finally:
            if (spans := _WIRE.get()) is not None:
                spans.append(time.perf_counter() - t0)

    httpx.AsyncClient.send = timed


async def _lag(out: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(LAG_TICK)
        out.append(time.perf_counter() - t0 - LAG_TICK)


async def _lane(convs: list[list[dict]], settings: LLMSettings) -> list[dict]:
    out = []
    for conv in convs:
        for r in conv:
            spans: list[float] = []
            _WIRE.set(spans)
            c = Client(settings, r["sampling"].get("seed", 1000) - 1000)
            t0 = time.perf_counter()
            reply = await c.complete(r["messages"], None, r["fmt"])
            wall = time.perf_counter() - t0
            _WIRE.set(None)
            out.append({"wall_s": wall, "wire_s": sum(spans), "sends": len(spans), "tokens": reply.output_tokens})
    return out


async def _run(convs: list[list[dict]], concurrency: int, rounds: int) -> tuple[list[dict], list[float], dict]:
    local_model.resolve(MODEL)
    first = convs[0][0]["sampling"]
    settings = LLMSettings(model=MODEL, cache=False, concurrency=concurrency, timeout_s=600.0,
                           max_tokens=first["max_tokens"])
    await Client(settings).complete(WARMUP["messages"])  # the first litellm call pays its lazy imports: not timed
    lanes = [convs[i::concurrency] for i in range(concurrency)]
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_lag(lags, stop))
    reqs: list[dict] = []
    cpu0, wall0 = time.thread_time(), time.perf_counter()  # the loop's thread: all of the client's work
    for _ in range(rounds):
        done = await asyncio.gather(*(_lane(lane, settings) for lane in lanes if lane))
        reqs += [q for lane in done for q in lane]
    loop_cpu = {"cpu_s": time.thread_time() - cpu0, "wall_s": time.perf_counter() - wall0}
    stop.set()
    await sampler
    return reqs, lags, loop_cpu


def summary(reqs: list[dict], lags: list[float], loop_cpu: dict, concurrency: int) -> dict:
    d = [(q["wall_s"] - q["wire_s"]) * 1000 for q in reqs]
    wall = statistics.mean(q["wall_s"] for q in reqs) * 1000
    lag = statistics.mean(lags) * 1000
    mean, half = statistics.mean(d), 1.96 * statistics.stdev(d) / len(d) ** 0.5
    est = mean + 2 * lag
    return {"concurrency": concurrency, "requests": len(reqs), "sends": sum(q["sends"] for q in reqs),
            "wall_ms": round(wall, 1), "outside_ms": round(mean, 2), "outside_ci_ms": [round(mean - half, 2),
                                                                                       round(mean + half, 2)],
            "outside_median_ms": round(statistics.median(d), 2), "outside_max_ms": round(max(d), 1),
            "lag_mean_ms": round(lag, 3), "lag_p99_ms": round(sorted(lags)[int(0.99 * (len(lags) - 1))] * 1000, 2),
            "est_ms": round(est, 2), "est_pct": round(100 * est / wall, 3),
            "est_ci_pct": [round(100 * (est - half) / wall, 3), round(100 * (est + half) / wall, 3)],
            "loop_cpu_s": round(loop_cpu["cpu_s"], 2), "phase_wall_s": round(loop_cpu["wall_s"], 1),
            "loop_cpu_pct_of_cores": round(100 * loop_cpu["cpu_s"] / loop_cpu["wall_s"] / (os.cpu_count() or 1), 2)}


def render(rows: list[dict], cmd: str, load: tuple[float, float]) -> str:
    lines = [f"Command: `{cmd}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};"
             f" load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.", "",
             "| concurrency | requests (sends) | client wall, mean | outside the send, mean (95% interval) / median |"
             " loop lag, mean / p99 | overhead = outside + 2 x lag | as % of the wall (95% interval) |"
             " loop thread's CPU, % of the cores |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["outside_ci_ms"]
        lines.append(f"| {r['concurrency']} | {r['requests']} ({r['sends']}) | {r['wall_ms']:.0f} ms | "
                     f"{r['outside_ms']:.2f} ms ({lo:.2f} to {hi:.2f}) / {r['outside_median_ms']:.2f} ms | "
                     f"{r['lag_mean_ms']:.2f} / {r['lag_p99_ms']:.2f} ms | {r['est_ms']:.2f} ms | "
                     f"**{r['est_pct']:.2f}%** ({r['est_ci_pct'][0]:.2f} to {r['est_ci_pct'][1]:.2f}) | "
                     f"{r['loop_cpu_pct_of_cores']:.2f}% |")
    return "\n".join(lines)


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--rounds", type=int, default=2, help="times every request is sent, per concurrency")
    ap.add_argument("--json", help="write the requests and summaries here")
    args = ap.parse_args()
    convs = logged_conversations(args.run_dir, args.agents)
    _litellm()
    _time_sends()
    load0, rows, raw = os.getloadavg()[0], [], {}
    try:
        for conc in args.concurrency:
            reqs, lags, loop_cpu = asyncio.run(_run(convs, conc, args.rounds))
            if any(q["sends"] != 1 for q in reqs):
                print(f"warning: {sum(q['sends'] != 1 for q in reqs)} requests did not make exactly one send",
                      file=sys.stderr)
            raw[conc] = {"requests": reqs, "lag_s": lags}
            rows.append(summary(reqs, lags, loop_cpu, conc))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        local_model.close_all()
    cmd = "python scripts/bench_llm_split.py " + " ".join(sys.argv[1:])
    print(render(rows, cmd, (load0, os.getloadavg()[0])))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "raw": raw}))


if __name__ == "__main__":
    main()
