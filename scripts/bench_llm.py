"""LLM-path overhead: the same requests sent raw to the embedded server and through silo's Client.

Requests are the exact `act` calls logged in a run directory (default runs/demo, written by
`make demo`): messages rebuilt with `replay_messages`, the same response schema, sampling and seed.
Each pass starts a fresh embedded server (cold prompt cache) and sends every request once, at a
fixed concurrency:

  raw     HTTP POST of the body the server receives (urllib threads, no litellm, no silo);
  client  silo.llm.Client.complete (litellm, retries, accounting) with the disk cache off.

The difference in wall time per request is what the LLM path adds on top of the server. Results
are written to a marked section of docs/benchmarks.md.

    python scripts/bench_llm.py [RUN_DIR] [--requests 48] [--concurrency 1 12]
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
from silo.llm import Client, LLMSettings  # noqa: E402
from silo.rundir import RunDir  # noqa: E402

MODEL = local_model.DEFAULT_MODEL


def logged_requests(run_dir: str, limit: int) -> list[dict]:
    """The first `limit` act calls of the run's episodes: messages, response format, sampling."""
    out: list[dict] = []
    for ep in RunDir(run_dir).episodes():
        agents = sorted({e.agent for e in ep.events if e.kind == "model_call"})
        for agent in agents:
            calls = [e for e in ep.events if e.kind == "model_call" and e.agent == agent]
            fmt = None
            for event, messages in zip(calls, replay_messages(ep.events, agent), strict=True):
                fmt = event.data.get("response_format", fmt) if "response_format" in event.data else fmt
                if event.data.get("purpose", "act") == "act" and event.data.get("model") == MODEL:
                    out.append({"messages": messages, "fmt": fmt, "sampling": event.data["sampling"]})
                if len(out) >= limit:
                    return out
    if not out:
        raise SystemExit(f"no {MODEL} calls logged in {run_dir}; run `make demo` first")
    return out


def raw_pass(reqs: list[dict], concurrency: int) -> dict:
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
    with ThreadPoolExecutor(concurrency) as ex:
        res = list(ex.map(one, reqs))
    return _summary(time.perf_counter() - t0, res)


def client_pass(reqs: list[dict], concurrency: int) -> dict:
    """Send the same requests through silo.llm.Client (litellm), cache off."""

    async def run() -> list[tuple[float, int]]:
        sem = asyncio.Semaphore(concurrency)
        settings = LLMSettings(model=MODEL, cache=False, concurrency=concurrency, timeout_s=600.0,
                               max_tokens=reqs[0]["sampling"]["max_tokens"])

        async def one(r: dict) -> tuple[float, int]:
            client = Client(settings, r["sampling"].get("seed", 1000) - 1000)
            async with sem:
                t0 = time.perf_counter()
                reply = await client.complete(r["messages"], None, r["fmt"])
                return time.perf_counter() - t0, reply.output_tokens

        await asyncio.to_thread(local_model.resolve, MODEL)
        return await asyncio.gather(*(one(r) for r in reqs))

    t0 = time.perf_counter()
    res = asyncio.run(run())
    return _summary(time.perf_counter() - t0, res)


def _summary(wall: float, res: list[tuple[float, int]]) -> dict:
    lat = [r[0] for r in res]
    tokens = sum(r[1] for r in res)
    return {"requests": len(res), "wall_s": round(wall, 2), "output_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1), "mean_latency_s": round(statistics.mean(lat), 3),
            "median_latency_s": round(statistics.median(lat), 3)}


def fresh(fn, reqs: list[dict], concurrency: int) -> dict:
    """One pass on a freshly started server (cold prompt cache), so passes are comparable."""
    local_model.close_all()
    try:
        return fn(reqs, concurrency)
    finally:
        local_model.close_all()


def render(rows: list[tuple[int, dict, dict]], source: str, n: int) -> str:
    s = local_model.ServerSettings.from_env()
    lines = [
        "<!-- LLM:BEGIN -->",
        "## LLM path vs the embedded server's raw throughput",
        "",
        f"Command: `python scripts/bench_llm.py {source}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end. Server: "
        f"{s.slots} slots x {s.ctx_per_slot} ctx, {s.threads} threads.",
        "",
        f"The same {n} `act` requests logged by `make demo` (messages, JSON-schema grammar, seed), sent raw",
        "over HTTP and through `silo.llm.Client` (litellm, our retries and accounting; cache off), each pass",
        "on a fresh server. Overhead = (client wall - raw wall) / requests.",
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
    lines.append("<!-- LLM:END -->")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default="runs/demo")
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 12])
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    reqs = logged_requests(args.run_dir, args.requests)
    rows = []
    for conc in args.concurrency:
        raw = fresh(raw_pass, reqs, conc)
        print(f"concurrency {conc} raw:    {raw}", flush=True)
        cli = fresh(client_pass, reqs, conc)
        print(f"concurrency {conc} client: {cli}", flush=True)
        rows.append((conc, raw, cli))
    text = render(rows, args.run_dir, len(reqs))
    print(text)
    if not args.no_write:
        write_section(text, "<!-- LLM:BEGIN -->", "<!-- LLM:END -->")


if __name__ == "__main__":
    main()
