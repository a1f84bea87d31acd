"""LLM-path overhead: the same requests sent raw to the embedded server and through silo's Client.

Requests are the exact `act` calls logged in a run directory (default runs/demo, written by
`make demo`): messages rebuilt with `replay_messages`, the same response schema, sampling and seed.
Each pass starts a fresh embedded server (cold prompt cache), sends one short warm-up request
(outside the timing: the first litellm call of a process pays its lazy imports, reported apart),
then every request once, at a fixed concurrency:

  raw     HTTP POST of the body the server receives (urllib threads, no litellm, no silo);
  client  silo.llm.Client.complete (litellm, retries, accounting) with the disk cache off.

Raw and client passes are paired, `--repeats` times per concurrency (order alternating), and the
overhead is each pair's client wall / raw wall - 1: a ratio is stable on a shared machine, an
absolute time is not. A second table splits the CPU time of one request between litellm and silo
against an instant local server (scripts/bench_llm_cpu.py --serve in another process, so only this
process's CPU is counted). The section is printed, or written to `--out` (docs/benchmarks.md has its marks).

    python scripts/bench_llm.py [RUN_DIR] [--agents 24] [--concurrency 1 12] [--repeats 3] [--out FILE]

Fixed output length (`--fixed-tokens K --pairs P`): batched decoding on many slots is not reproducible, so the
same requests give a different number of output tokens pass to pass (3,424-3,918 for 162 requests at 12 lanes),
and whole passes then do different work. With `--fixed-tokens K` every request of both paths is sent with
llama.cpp's `ignore_eos: true` and `max_tokens: K` (the client's through `LLMSettings.model_args`, which litellm
puts in the request body), so every request generates exactly K tokens; the JSON-schema grammar stays (it does
not end generation early: once the JSON is complete the model goes on, unconstrained, to K). P pairs of raw and
client passes run in ABBA order (raw, client, client, raw, ...), each on a fresh server, with the load average at
the start and end of each pass; a pass whose output tokens are not K x requests, or a pair whose two passes
differ in them, is invalid. Reported: each pair's client wall / raw wall - 1 and a 95% t-interval over the
valid pairs (the CPU split is not run in this mode).

    python scripts/bench_llm.py RUN_DIR --fixed-tokens 16 --pairs 6 --concurrency 12 [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_harness import write_section  # noqa: E402
from silo import llm, local_model  # noqa: E402
from silo.agents.llm_agent import replay_messages  # noqa: E402
from silo.llm import Client, LLMSettings, _litellm  # noqa: E402
from silo.rundir import RunDir  # noqa: E402

MODEL = local_model.DEFAULT_MODEL
BEGIN, END = "<!-- LLM:BEGIN -->", "<!-- LLM:END -->"
WARMUP = {"messages": [{"role": "user", "content": "Say hi."}], "fmt": None,
          "sampling": {"max_tokens": 1, "seed": 1000}}


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


def _post(url: str, body: bytes) -> dict:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())


def raw_body(r: dict) -> bytes:
    """The body the embedded server receives for a logged request."""
    body = {"model": "smollm2-135m", "messages": r["messages"], **r["sampling"]}
    if r["fmt"]:
        body["grammar"] = local_model.grammar(r["fmt"])
    return json.dumps(body).encode()


def raw_pass(convs: list[list[dict]], concurrency: int) -> dict:
    """Send each request's server body with urllib: the server's own speed on these requests."""
    url = f"{local_model.resolve(MODEL)[1]}/chat/completions"
    _post(url, raw_body(WARMUP))

    def one(r: dict) -> tuple[float, int, int, int]:
        t0 = time.perf_counter()
        usage = _post(url, raw_body(r))["usage"]
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return (time.perf_counter() - t0, int(usage["completion_tokens"]), int(usage.get("prompt_tokens") or 0),
                int(cached))

    t0 = time.perf_counter()
    res = _in_parallel(convs, concurrency, one)
    return _summary(time.perf_counter() - t0, res)


def client_pass(convs: list[list[dict]], concurrency: int, provider: str | None = None) -> dict:
    """Send the same requests, in the same pattern, through silo.llm.Client (litellm), cache off;
    `provider`: the litellm provider the embedded server is called as (default: silo's)."""
    first = convs[0][0]["sampling"]
    # what else the logged (or --fixed-tokens) sampling sends goes through as the run's -M KEY=VALUE would
    extra = tuple(sorted((k, v) for k, v in first.items() if k not in ("max_tokens", "seed")))
    settings = LLMSettings(model=MODEL, cache=False, concurrency=concurrency, timeout_s=600.0,
                           max_tokens=first["max_tokens"], model_args=extra)

    async def call(r: dict) -> tuple[float, int, int, int]:
        client = Client(settings, r["sampling"].get("seed", 1000) - 1000)
        t0 = time.perf_counter()
        reply = await client.complete(r["messages"], None, r["fmt"])
        return time.perf_counter() - t0, reply.output_tokens, reply.input_tokens, reply.cached_tokens

    async def conversation(conv: list[dict], sem: asyncio.Semaphore) -> list[tuple[float, int]]:
        async with sem:
            return [await call(r) for r in conv]

    async def run() -> tuple[float, list[tuple[float, int]]]:
        warm = (await call(WARMUP))[0]
        sem = asyncio.Semaphore(concurrency)
        t0 = time.perf_counter()
        per_conv = await asyncio.gather(*(conversation(c, sem) for c in convs))
        return time.perf_counter() - t0, [r for conv in per_conv for r in conv], warm

    _litellm()
    local_model.resolve(MODEL)  # the server starts outside the timing, as in the raw pass
    default, llm.LOCAL_PROVIDER = llm.LOCAL_PROVIDER, provider or llm.LOCAL_PROVIDER
    try:
        wall, res, warm = asyncio.run(run())
    finally:
        llm.LOCAL_PROVIDER = default
    return {**_summary(wall, res), "warmup_s": round(warm, 3)}


def _summary(wall: float, res: list[tuple[float, int, int, int]]) -> dict:
    """A pass's figures; prompt_tokens and cached_tokens (the server's prompt cache) as the server reports them."""
    lat = [r[0] for r in res]
    tokens = sum(r[1] for r in res)
    return {"requests": len(res), "wall_s": round(wall, 2), "output_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 1), "mean_latency_s": round(statistics.mean(lat), 3),
            "median_latency_s": round(statistics.median(lat), 3),
            "prompt_tokens": sum(r[2] for r in res), "cached_tokens": sum(r[3] for r in res),
            "min_output_tokens": min(r[1] for r in res), "max_output_tokens": max(r[1] for r in res)}


def fixed_length(convs: list[list[dict]], k: int) -> list[list[dict]]:
    """The same requests, each asking for exactly k output tokens (llama.cpp's ignore_eos), so passes do equal work."""
    return [[{**r, "sampling": {**r["sampling"], "max_tokens": k, "ignore_eos": True}} for r in conv]
            for conv in convs]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]  # what `uptime` prints: 1, 5 and 15 minutes


def abba(convs: list[list[dict]], concurrency: int, pairs: int, k: int, json_path: str | None) -> list[dict]:
    """`pairs` raw/client pairs at a fixed output length, ABBA order (raw, client, client, raw, ...), each pass on
    a fresh server, the load average at its start and end; a pass is valid only if it made exactly k tokens a
    request, and a pair only if both of its passes made the same number of tokens."""
    n = sum(len(c) for c in convs)
    s = local_model.server_for(MODEL).settings
    out = []
    for i in range(pairs):
        order = [("raw", raw_pass), ("client", client_pass)]
        order = order if i % 2 == 0 else order[::-1]
        pair: dict = {"pair": i + 1, "concurrency": concurrency, "fixed_tokens": k, "requests": n,
                      "server": {"slots": s.slots, "ctx_per_slot": s.ctx_per_slot, "threads": s.threads},
                      "order": [name for name, _ in order]}
        for name, fn in order:
            load0, start = _load(), time.strftime("%H:%M:%S", time.gmtime())
            res = fresh(fn, convs, concurrency)
            res.update(load_start=load0, load_end=_load(), start_utc=start,
                       valid=res["output_tokens"] == k * n and res["min_output_tokens"] == res["max_output_tokens"])
            pair[name] = res
            print(f"pair {i + 1} {name}: wall {res['wall_s']} s, output tokens {res['output_tokens']} "
                  f"(expected {k * n}; per request {res['min_output_tokens']}-{res['max_output_tokens']}), prompt "
                  f"{res['prompt_tokens']} (cached {res['cached_tokens']}), load {load0} -> {res['load_end']}"
                  f"{'' if res['valid'] else '  INVALID'}", flush=True)
        raw, cli = pair["raw"], pair["client"]
        pair["valid"] = raw["valid"] and cli["valid"] and raw["output_tokens"] == cli["output_tokens"]
        pair["ratio"] = cli["wall_s"] / raw["wall_s"] - 1
        print(f"pair {i + 1}: client/raw - 1 = {pair['ratio'] * 100:+.2f}%{'' if pair['valid'] else ' (INVALID)'}",
              flush=True)
        if json_path:
            with open(json_path, "a") as f:
                f.write(json.dumps(pair) + "\n")
        out.append(pair)
    return out


def t_interval(xs: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t-interval of the mean (needs 2 or more values)."""
    from scipy import stats

    m = statistics.mean(xs)
    half = stats.t.ppf(0.5 + level / 2, len(xs) - 1) * statistics.stdev(xs) / len(xs) ** 0.5
    return m, m - half, m + half


def render_fixed(pairs: list[dict], command: str) -> str:
    """The pairs as a Markdown table and the t-interval of client/raw - 1 over the valid pairs."""
    lines = [f"`{command}`", "",
             "| pair | order | raw wall | client wall | output tokens raw / client | prompt cached raw / client |"
             " load (1 min) start -> end, raw; client | client/raw - 1 |",
             "|---|---|---|---|---|---|---|---|"]
    for p in pairs:
        r, c = p["raw"], p["client"]
        lines.append(f"| {p['pair']} | {', '.join(p['order'])} | {r['wall_s']} s | {c['wall_s']} s | "
                     f"{r['output_tokens']} / {c['output_tokens']} | {r['cached_tokens']} / {c['cached_tokens']} | "
                     f"{r['load_start'][0]} -> {r['load_end'][0]}; {c['load_start'][0]} -> {c['load_end'][0]} | "
                     f"{p['ratio'] * 100:+.2f}%{'' if p['valid'] else ' (invalid)'} |")
    ok = [p["ratio"] * 100 for p in pairs if p["valid"]]
    lines.append("")
    if len(ok) >= 2:
        m, lo, hi = t_interval(ok)
        lines.append(f"- {len(ok)} valid pairs of {len(pairs)}: client/raw - 1 = **{m:+.2f}%** (95% t-interval "
                     f"{lo:+.2f} to {hi:+.2f}%), median {statistics.median(ok):+.2f}%.")
    else:
        lines.append(f"- {len(ok)} valid pairs of {len(pairs)}: too few for an interval.")
    return "\n".join(lines)


def fresh(fn, convs: list[list[dict]], concurrency: int) -> dict:
    """One pass on a freshly started server (cold prompt cache), so passes are comparable."""
    local_model.close_all()
    try:
        return fn(convs, concurrency)
    finally:
        local_model.close_all()


def before_pass(convs: list[list[dict]], concurrency: int) -> dict:
    """The client pass as before this change: the embedded server called as litellm's openai/ provider."""
    return client_pass(convs, concurrency, "openai")


PASSES = [("raw", raw_pass), ("before", before_pass), ("client", client_pass)]


def paired(convs: list[list[dict]], concurrency: int, repeats: int) -> list[dict[str, dict]]:
    """`repeats` sets of (raw, before, client) passes, the order rotating so a drift in load favours none."""
    sets = []
    for i in range(repeats):
        res = {name: fresh(fn, convs, concurrency) for name, fn in PASSES[i % 3:] + PASSES[:i % 3]}
        print(f"concurrency {concurrency} set {i + 1}: {res}", flush=True)
        sets.append(res)
    return sets


def cpu_split(r: dict, n: int) -> list[tuple[str, float, float]]:
    """CPU and wall ms per request of each layer against an instant server in another process."""
    # an instant keep-alive server (as llama.cpp's; tests/fault_server.py closes every connection)
    serve = [sys.executable, str(Path(__file__).with_name("bench_llm_cpu.py")), "--serve"]
    proc = subprocess.Popen(serve, stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().strip()
    srv = local_model.server_for(MODEL)
    srv._server, srv._address = "canned", base.removesuffix("/v1")  # the Client's embedded path, canned replies
    litellm, loop = _litellm(), asyncio.new_event_loop()
    kw = {"messages": r["messages"], "timeout": 600.0, "num_retries": 0, "max_retries": 0, "api_base": base,
          "api_key": local_model.DUMMY_KEY, "extra_body": {"grammar": local_model.grammar(r["fmt"])}, **r["sampling"]}
    cache_dir = tempfile.mkdtemp(prefix="bench_llm_cache_")
    top = r["sampling"]["max_tokens"]
    clients = {c: Client(LLMSettings(model=MODEL, cache=c, cache_dir=cache_dir, max_tokens=top)) for c in (False, True)}
    seq = iter(range(10**9))

    def cached_miss():  # a fresh replicate each call: a cache miss, then the reply is stored
        clients[True].replicate = next(seq)
        return clients[True].complete(r["messages"], None, r["fmt"])

    url = f"{base}/chat/completions"
    layers = [("HTTP POST (urllib), no litellm", lambda: asyncio.to_thread(_post, url, raw_body(r))),
              ("litellm.acompletion, openai/ provider (the OpenAI SDK; before)",
               lambda: litellm.acompletion(model="openai/smollm2-135m", **kw)),
              ("litellm.acompletion, hosted_vllm/ provider (now)",
               lambda: litellm.acompletion(model="hosted_vllm/smollm2-135m", **kw)),
              ("silo Client.complete, cache off (the client passes above)",
               lambda: clients[False].complete(r["messages"], None, r["fmt"])),
              ("silo Client.complete, cache on (miss + store, as in a run)", cached_miss)]
    out = []
    try:
        for name, make in layers:
            t0 = time.perf_counter()
            loop.run_until_complete(make())
            FIRST.setdefault(name, time.perf_counter() - t0)  # the first call of the process: lazy imports
            for _ in range(10):
                loop.run_until_complete(make())
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                loop.run_until_complete(make())
            out.append((name, (time.process_time() - c0) / n * 1000, (time.perf_counter() - w0) / n * 1000))
    finally:
        srv._server = srv._address = None
        proc.kill()
    return out


def _spread(xs: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(xs))} (range {fmt.format(min(xs))} to {fmt.format(max(xs))})"


def _overhead(res: dict, path: str) -> tuple[float, float]:
    """(% of wall, ms per request) that a client path adds over the raw pass of the same set."""
    raw, cli = res["raw"], res[path]
    return (cli["wall_s"] / raw["wall_s"] - 1) * 100, (cli["wall_s"] - raw["wall_s"]) / raw["requests"] * 1000


def render(rows, split, source: str, n: int, n_conv: int, repeats: int) -> str:
    s = local_model.ServerSettings.from_env()
    lines = [
        BEGIN, "## LLM path vs the embedded server's raw throughput", "",
        f"Command: `python scripts/bench_llm.py {source} --agents {n_conv} --repeats {repeats}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} at the end (the machine is shared). "
        f"Server: {s.slots} slots x {s.ctx_per_slot} ctx, {s.threads} threads.", "",
        f"The {n} `act` requests of {n_conv} agents logged by `make demo` (messages, JSON-schema grammar, seed), sent",
        "raw over HTTP and through `silo.llm.Client` (litellm, our retries and accounting; cache off), each pass on a",
        "fresh server after one warm-up request. As in a run, each agent's requests go in order (each extends the",
        "previous prompt) and `concurrency` agents talk at once. Each set runs three passes (order rotating): raw,",
        "the client as before (embedded server called as litellm's openai/ provider, through the OpenAI SDK) and the",
        "client now (litellm's hosted_vllm/ provider); overhead = client wall / raw wall - 1 within the set.", "",
        "| concurrency | set | raw wall | before: client wall | before: overhead | now: client wall | now: overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for conc, sets in rows:
        for i, res in enumerate(sets, 1):
            (b, bms), (c, cms) = _overhead(res, "before"), _overhead(res, "client")
            lines.append(f"| {conc} | {i} | {res['raw']['wall_s']} s | {res['before']['wall_s']} s | {b:+.1f}% "
                         f"({bms:+.0f} ms/request) | {res['client']['wall_s']} s | {c:+.1f}% ({cms:+.0f} ms/request) |")
    lines.append("")
    for conc, sets in rows:
        for path, label in (("before", "before"), ("client", "now")):
            shares = [_overhead(res, path)[0] for res in sets]
            per = [_overhead(res, path)[1] for res in sets]
            lines.append(f"- concurrency {conc}, {label}: the LLM path adds {_spread(shares, '{:+.1f}%')} of wall, "
                         f"{_spread(per, '{:+.0f} ms')} per request, over {len(sets)} sets.")
    first = list(FIRST.values())
    lines += [f"- once per process, not in the figures above: the first litellm call takes {first[1]:.2f} s "
              f"(lazy imports; the first through the other provider {first[2]:.2f} s), against "
              f"{first[0] * 1000:.0f} ms for the first raw POST.", "",
              "CPU time of this process per request against an instant keep-alive server (bench_llm_cpu.py, in another",
              f"process), median of {len(split)} runs of {SPLIT_N} requests each (the last logged request of the "
              "first agent):", "",
              "| layer | CPU per request | wall per request |", "|---|---|---|"]
    for k, (name, _, _) in enumerate(split[0]):
        cpu = statistics.median(run[k][1] for run in split)
        wall = statistics.median(run[k][2] for run in split)
        lines.append(f"| {name} | {cpu:.2f} ms | {wall:.2f} ms |")
    lines.append(END)
    return "\n".join(lines)


SPLIT_N = 50
FIRST: dict[str, float] = {}


def arguments(doc: str) -> argparse.ArgumentParser:
    """The options of the LLM benchmarks: the run whose logged requests are replayed, how many agents, at what
    concurrencies (bench_llm_pairs.py too)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default="runs/demo")
    ap.add_argument("--agents", type=int, default=24, help="conversations (agents) to replay")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 12])
    return ap


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--repeats", type=int, default=3, help="raw/client pairs per concurrency")
    ap.add_argument("--out", help="write the section to this file (docs/benchmarks.md: replace its marked section)")
    ap.add_argument("--fixed-tokens", type=int, default=0, metavar="K",
                    help="every request generates exactly K tokens (ignore_eos), raw and client in ABBA pairs")
    ap.add_argument("--pairs", type=int, default=4, help="with --fixed-tokens: raw/client pairs per concurrency")
    ap.add_argument("--json", help="with --fixed-tokens: append one JSON line per pair to this file")
    args = ap.parse_args()
    convs = logged_conversations(args.run_dir, args.agents)
    if args.fixed_tokens:
        convs = fixed_length(convs, args.fixed_tokens)
        command = "python scripts/bench_llm.py " + " ".join(sys.argv[1:])
        print(f"{sum(map(len, convs))} requests of {len(convs)} agents, {args.fixed_tokens} tokens each", flush=True)
        texts = [render_fixed(abba(convs, conc, args.pairs, args.fixed_tokens, args.json), command)
                 for conc in args.concurrency]
        print("\n\n".join(texts))
        if args.out:
            Path(args.out).write_text("\n\n".join(texts) + "\n")
        return
    n = sum(len(c) for c in convs)
    split = [cpu_split(convs[0][-1], SPLIT_N) for _ in range(3)]
    for name, cpu, wall in split[0]:
        print(f"{name}: cpu {cpu:.2f} ms, wall {wall:.2f} ms", flush=True)
    rows = [(conc, paired(convs, conc, args.repeats)) for conc in args.concurrency]
    print(json.dumps({"rows": rows, "split": split, "first": FIRST}), flush=True)  # to re-render if need be
    text = render(rows, split, args.run_dir, n, len(convs), args.repeats)
    print(text)
    if args.out and Path(args.out).name == "benchmarks.md":
        write_section(text, BEGIN, END)
    elif args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
