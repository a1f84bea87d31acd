"""LLM-path overhead: the same requests sent raw to the embedded server and through silo's Client.

Requests are the exact `act` calls logged in a run directory (default runs/demo, written by
`make demo`): messages rebuilt with `replay_messages`, the same response schema, sampling and seed.
Each pass starts a fresh embedded server (cold prompt cache) and sends every request once, at a
fixed concurrency:

  raw     HTTP POST of the body the server receives (urllib threads, no litellm, no silo);
  client  silo.llm.Client.complete (litellm, retries, accounting) with the disk cache off.

The difference in wall time per request is what the LLM path adds on top of the server. Results
are written to a marked section of docs/benchmarks.md.

    python scripts/bench_llm.py [RUN_DIR] [--agents 24] [--concurrency 1 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_harness import write_section  # noqa: E402
from silo import local_model  # noqa: E402
from silo.agents.llm_agent import replay_messages  # noqa: E402
from silo.llm import Client, LLMSettings, _litellm  # noqa: E402
from silo.rundir import RunDir  # noqa: E402

MODEL = local_model.DEFAULT_MODEL


def logged_conversations(run_dir: str, limit: int) -> list[list[dict]]:
    """The act calls of the first `limit` agents of the run, one list per agent (a conversation)."""
    out: list[list[dict]] = []
    for ep in RunDir(run_dir).episodes():
        for agent in sorted({e.agent for e in ep.events if e.kind == "model_call"}):
            calls = [e for e in ep.events if e.kind == "model_call" and e.agent == agent]
            conv, fmt = [], None
            for event, messages in zip(calls, replay_messages(ep.events, agent), strict=True):
                fmt = event.data["response_format"] if "response_format" in event.data else fmt
                if event.data.get("purpose", "act") == "act" and event.data.get("model") == MODEL:
                    conv.append({"messages": messages, "fmt": fmt, "sampling": event.data["sampling"]})
            if conv:
                out.append(conv)
            if len(out) >= limit:
                return out
    if not out:
        raise SystemExit(f"no {MODEL} calls logged in {run_dir}; run `make demo` first")
    return out


def _in_parallel(convs: list[list[dict]], concurrency: int, one) -> list[tuple[float, int]]:
    """Conversations in parallel (at most `concurrency`), each one's requests in order, as agents send them."""
    with ThreadPoolExecutor(concurrency) as ex:
        per_conv = list(ex.map(lambda conv: [one(r) for r in conv], convs))
    return [r for conv in per_conv for r in conv]


def raw_pass(convs: list[list[dict]], concurrency: int) -> dict:
    """Send each request's server body with urllib: the server's own speed on these requests."""
    base = local_model.resolve(MODEL)[1]

    def one(r: dict) -> tuple[float, int]:
        body = {"model": "smollm2-135m", "messages": r["messages"], **r["sampling"]}
        if r["fmt"]:
            body["grammar"] = local_model.grammar(r["fmt"])
        req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=600) as resp:
            usage = json.loads(resp.read())["usage"]
        return time.perf_counter() - t0, int(usage["completion_tokens"])

    t0 = time.perf_counter()
    res = _in_parallel(convs, concurrency, one)
    return _summary(time.perf_counter() - t0, res)


def client_pass(convs: list[list[dict]], concurrency: int) -> dict:
    """Send the same requests, in the same pattern, through silo.llm.Client (litellm), cache off."""
    first = convs[0][0]["sampling"]
    settings = LLMSettings(model=MODEL, cache=False, concurrency=concurrency, timeout_s=600.0,
                           max_tokens=first["max_tokens"])

    async def conversation(conv: list[dict], sem: asyncio.Semaphore) -> list[tuple[float, int]]:
        out = []
        async with sem:
            for r in conv:
                client = Client(settings, r["sampling"].get("seed", 1000) - 1000)
                t0 = time.perf_counter()
                reply = await client.complete(r["messages"], None, r["fmt"])
                out.append((time.perf_counter() - t0, reply.output_tokens))
        return out

    async def run() -> list[tuple[float, int]]:
        sem = asyncio.Semaphore(concurrency)
        await asyncio.to_thread(local_model.resolve, MODEL)
        per_conv = await asyncio.gather(*(conversation(c, sem) for c in convs))
        return [r for conv in per_conv for r in conv]

    _litellm()  # import once outside the timing (~5 s; a run pays it once per process)
    t0 = time.perf_counter()
    res = asyncio.run(run())
    return _summary(time.perf_counter() - t0, res)


def _summary(wall: float, res: list[tuple[float, int]]) -> dict:
    lat = [r[0] for r in res]
    tokens = sum(r[1] for r in res)
    return {"requests": len(res), "wall_s": round(wall, 2), "output_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1), "mean_latency_s": round(statistics.mean(lat), 3),
            "median_latency_s": round(statistics.median(lat), 3)}


def fresh(fn, convs: list[list[dict]], concurrency: int) -> dict:
    """One pass on a freshly started server (cold prompt cache), so passes are comparable."""
    local_model.close_all()
    try:
        return fn(convs, concurrency)
    finally:
        local_model.close_all()


def render(rows: list[tuple[int, dict, dict]], source: str, n: int, n_conv: int) -> str:
    s = local_model.ServerSettings.from_env()
    lines = [
        "<!-- LLM:BEGIN -->",
        "## LLM path vs the embedded server's raw throughput",
        "",
        f"Command: `python scripts/bench_llm.py {source}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end. Server: "
        f"{s.slots} slots x {s.ctx_per_slot} ctx, {s.threads} threads.",
        "",
        f"The {n} `act` requests of {n_conv} agents logged by `make demo` (messages, JSON-schema grammar,",
        "seed), sent raw over HTTP and through `silo.llm.Client` (litellm, our retries and accounting; cache",
        "off), each pass on a fresh server, litellm imported beforehand. As in a run, each agent's requests",
        "go in order (each extends the previous prompt) and `concurrency` agents talk at once.",
        "Overhead = (client wall - raw wall) / requests.",
        "",
        "| concurrency | path | wall | output tokens | tokens/s | mean latency | median latency |",
        "|---|---|---|---|---|---|---|",
    ]
    for conc, raw, cli in rows:
        for name, r in (("raw", raw), ("client", cli)):
            lines.append(f"| {conc} | {name} | {r['wall_s']} s | {r['output_tokens']:,} | {r['tokens_per_s']} | "
                         f"{r['mean_latency_s']} s | {r['median_latency_s']} s |")
    lines.append("")
    for conc, raw, cli in rows:
        per = (cli["wall_s"] - raw["wall_s"]) / raw["requests"] * 1000
        share = (cli["wall_s"] - raw["wall_s"]) / raw["wall_s"] * 100
        lines.append(f"- concurrency {conc}: the LLM path adds {per:.0f} ms per request ({share:+.1f}% of wall).")
    if len(rows) > 1:
        (c0, r0, _), (c1, r1, _) = rows[0], rows[-1]
        lines.append(f"- the raw server itself: {c1} agents at once take {r1['wall_s'] / r0['wall_s']:.2f}x the wall "
                     f"time of {c0} at a time on these requests (prompt processing of each turn's new tokens, "
                     f"not decoding, bounds a 2-core machine; parallel slots help decode-heavy work only).")
    lines.append("<!-- LLM:END -->")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default="runs/demo")
    ap.add_argument("--agents", type=int, default=24, help="conversations (agents) to replay")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 12])
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    convs = logged_conversations(args.run_dir, args.agents)
    n = sum(len(c) for c in convs)
    rows = []
    for conc in args.concurrency:
        raw = fresh(raw_pass, convs, conc)
        print(f"concurrency {conc} raw:    {raw}", flush=True)
        cli = fresh(client_pass, convs, conc)
        print(f"concurrency {conc} client: {cli}", flush=True)
        rows.append((conc, raw, cli))
    text = render(rows, args.run_dir, n, len(convs))
    print(text)
    if not args.no_write:
        write_section(text, "<!-- LLM:BEGIN -->", "<!-- LLM:END -->")


if __name__ == "__main__":
    main()
