"""CPU time per request of the LLM path against an instant local server: this tree vs a baseline, paired.

The wall-time benchmark (scripts/bench_llm.py) needs a quiet machine; this one does not. A local
OpenAI-compatible server (in its own process, HTTP/1.1 keep-alive like llama.cpp's) answers every
request at once with the same chat completion, so all the time left is the client's. For each tree
(this one, and `--baseline` SRC, e.g. a `git archive` export of an older `src/`) a fresh worker
process, with that tree on PYTHONPATH, sends the same request `--requests` times through each layer
after 20 warm-ups and reports its own CPU time (process_time: all its threads) per request:

  raw     HTTP POST of the same body over one persistent connection (http.client, no litellm, no silo);
  litellm litellm.acompletion called plainly (hosted_vllm/ provider, the same arguments, no silo flags);
  client  silo.llm.Client.complete with the disk cache off;
  cached  Client.complete with the cache on, each call a miss and a store (a fresh replicate), as in a run.

Workers alternate (baseline, this tree, baseline, ...) `--rounds` times, so a change in load affects
both alike; medians over rounds are reported, with the share of a 0.65 s request (the embedded
model's mean request on the quiet machine). The request is the last logged `act` request of the
first agent in RUN_DIR (default runs/demo, from `make demo`), else a built-in one of similar size.

    python scripts/bench_llm_cpu.py [RUN_DIR] [--baseline SRC] [--requests 200] [--rounds 3] [--out FILE]
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST_S = 0.65  # the embedded model's mean request on the quiet machine (docs/benchmarks.md)
LAYERS = ("raw", "litellm", "client", "cached")
ACTION = '{"name": "submit_result", "arguments": {"answer": 7}}'


def completion(prompt_tokens: int) -> bytes:
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "smollm2-135m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ACTION}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 17, "total_tokens": prompt_tokens + 17},
    }).encode()


def serve() -> None:
    """The instant server: every POST gets the same completion at once (keep-alive, as llama.cpp's)."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            payload = completion(len(body) // 4)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    print(f"http://127.0.0.1:{httpd.server_address[1]}/v1", flush=True)
    httpd.serve_forever()


def builtin_request() -> dict:
    """A request shaped like a logged act request: a long system prompt, then rounds of action and result."""
    system = ("You are agent 0 of 4 in a team solving a task together. " * 30).strip()
    msgs = [{"role": "system", "content": system}]
    for k in range(4):
        msgs.append({"role": "user", "content": f"Round {k + 1} of 10. Choose one action. " * 3})
        msgs.append({"role": "assistant", "content": '{"name": "receive_messages", "arguments": {}}'})
    msgs.append({"role": "user", "content": "receive_messages -> [agent 1: my value is 12]"})
    schema = {"type": "object", "properties": {"name": {"enum": ["send_message", "wait", "submit_result"]},
                                               "arguments": {"type": "object"}}, "required": ["name", "arguments"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "action", "schema": schema, "strict": True}}
    return {"messages": msgs, "fmt": fmt, "sampling": {"max_tokens": 128, "seed": 1000}}


def load_request(run_dir: str) -> tuple[dict, str]:
    if Path(run_dir).is_dir():
        sys.path.insert(0, str(HERE))
        from bench_llm import logged_conversations

        return logged_conversations(run_dir, 1)[0][-1], f"the last logged act request of the first agent in {run_dir}"
    return builtin_request(), "the built-in request (no run directory)"


def worker(base: str, request: dict, n: int) -> dict[str, float]:
    """CPU ms per request of each layer, in this process (the tree on PYTHONPATH)."""
    import http.client
    from urllib.parse import urlsplit

    from silo import llm, local_model
    from silo.llm import Client, LLMSettings

    model = local_model.DEFAULT_MODEL
    srv = local_model.server_for(model)
    srv._server, srv._address = "instant", base.removesuffix("/v1")  # the Client's embedded path, instant replies
    litellm = llm._litellm()
    r, top = request, request["sampling"]["max_tokens"]
    body = {"model": "smollm2-135m", "messages": r["messages"], **r["sampling"]}
    if r["fmt"]:
        body["grammar"] = local_model.grammar(r["fmt"])
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port)

    def post():
        conn.request("POST", f"{url.path}/chat/completions", json.dumps(body).encode(),
                     {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())

    kw = {"messages": r["messages"], "timeout": 600.0, "num_retries": 0, "max_retries": 0, "api_base": base,
          "api_key": local_model.DUMMY_KEY, "extra_body": {"grammar": body.get("grammar")}, **r["sampling"]}
    cache_dir = tempfile.mkdtemp(prefix="bench_llm_cpu_")
    clients = {c: Client(LLMSettings(model=model, cache=c, cache_dir=cache_dir, max_tokens=top)) for c in (False, True)}
    seq = iter(range(1, 10**9))

    def cached():
        clients[True].replicate = next(seq)
        return clients[True].complete(r["messages"], None, r["fmt"])

    async def sync(fn):
        return fn()

    makers = {"raw": lambda: sync(post),
              "litellm": lambda: litellm.acompletion(model=f"{llm.LOCAL_PROVIDER}/smollm2-135m", **kw),
              "client": lambda: clients[False].complete(r["messages"], None, r["fmt"]),
              "cached": cached}
    loop = asyncio.new_event_loop()
    out = {}
    for name in LAYERS:
        for _ in range(20):
            loop.run_until_complete(makers[name]())
        c0 = time.process_time()
        for _ in range(n):
            loop.run_until_complete(makers[name]())
        out[name] = (time.process_time() - c0) / n * 1000
    return out


def run_worker(src: str, base: str, req_file: str, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    cmd = [sys.executable, __file__, "--worker", base, req_file, str(n)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def render(results: dict[str, list[dict]], args, source: str, machine: str) -> str:
    trees = list(results)
    lines = ["### CPU per request against an instant server (scripts/bench_llm_cpu.py)", "",
             f"Command: `python scripts/bench_llm_cpu.py{' --baseline ' + args.baseline if args.baseline else ''} "
             f"--requests {args.requests} --rounds {args.rounds}` on {machine}; load average "
             f"{args.load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. Request: {source}. "
             f"Median over {args.rounds} rounds (workers alternating) of the CPU ms per request of the "
             f"worker process, after 20 warm-ups; % = share of a {REQUEST_S} s request.", "",
             "| layer | " + " | ".join(trees) + (" | after / before |" if len(trees) == 2 else " |"),
             "|---|" + "---|" * (len(trees) + (len(trees) == 2))]
    labels = {"raw": "HTTP POST (http.client, keep-alive), no litellm",
              "litellm": "litellm.acompletion, plain (same arguments, without silo's flags)",
              "client": "silo Client.complete, cache off", "cached": "silo Client.complete, cache on (miss + store)"}
    for layer in LAYERS:
        meds = [statistics.median(r[layer] for r in results[t]) for t in trees]
        cells = [f"{m:.2f} ms ({m / (REQUEST_S * 10):.2f}%)" for m in meds]
        ratio = [f"{meds[1] / meds[0]:.2f}x"] if len(trees) == 2 else []
        lines.append(f"| {labels[layer]} | " + " | ".join(cells + ratio) + " |")
    lines += ["", "Per round (client, cache off / cache on, ms): " + "; ".join(
        f"{t}: " + ", ".join(f"{r['client']:.2f}/{r['cached']:.2f}" for r in results[t]) for t in trees)]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve()
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        base, req_file, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(worker(base, json.loads(Path(req_file).read_text()), n)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default="runs/demo")
    ap.add_argument("--baseline", help="the src/ directory of the code to pair against (e.g. a git archive export)")
    ap.add_argument("--requests", type=int, default=200, help="timed requests per layer and worker")
    ap.add_argument("--rounds", type=int, default=3, help="workers per tree, alternating")
    ap.add_argument("--out", help="also write the section to this file")
    args = ap.parse_args()
    args.load_start = os.getloadavg()[0]
    request, source = load_request(args.run_dir)
    trees = ([("before", args.baseline)] if args.baseline else []) + [("after", str(HERE.parent / "src"))]
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    try:
        base = server.stdout.readline().strip()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(request, f)
        for i in range(args.rounds):
            for name, src in trees:
                res = run_worker(src, base, f.name, args.requests)
                results[name].append(res)
                print(f"round {i + 1} {name}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in res.items()), flush=True)
        os.unlink(f.name)
    finally:
        server.kill()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = render(results, args, source, machine)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
