"""The co-located CPU term of the LLM path at 12 lanes, by dose response: how much stolen CPU slows the server.

The embedded llama.cpp server and silo's client share the machine's cores; the server's decode threads meet at a
barrier, so CPU the client takes can stall the decode. Whole client-vs-raw passes are too noisy to show a 1%
effect (docs/benchmarks.md, session 14), so this script measures the effect of a known dose instead:

1. Raw passes (bench_llm.py's `raw_pass`, the `--fixed-tokens K` requests: every pass exactly K x requests output
   tokens), each on a fresh server, with a burner process beside them that takes a fraction f of one core in short
   bursts (`--burst-ms`, 3 ms of its own CPU, then a sleep so that CPU / wall = f). The burner measures its dose
   itself (process CPU over wall, from start to stop). Doses run in a balanced order (ABCD, DCBA, ...).
2. Client passes (bench_llm.py's `client_pass`, no burner) next to the dose-0 raw passes: this process's CPU
   (os.times) per second of wall, client minus raw, is the client's extra core fraction.
3. Fit raw wall = a + b x dose; the co-located term = (b / a) x the extra core fraction, as % of wall.

The server runs in a child process (xllamacpp, as local_model starts it in process), so this process's CPU is the
client's alone; the server's CPU, the burner's, the machine's busy and steal time (/proc/stat) and the load average
are recorded for each pass window. One JSON line per pass goes to `--json`; `--fit FILE` renders the table and the
fit from such a file.

    SILO_LOCAL_THREADS=2 python scripts/bench_llm_steal.py RUN_DIR --concurrency 12 --fixed-tokens 8 \
        --doses 0 0.1 0.25 0.5 --blocks 8 --until 13:35 --json OUT.jsonl
    python scripts/bench_llm_steal.py --fit OUT.jsonl [--out FILE]
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_llm  # noqa: E402
from bench_llm import MODEL, WARMUP, _load, client_pass, fixed_length, logged_conversations, raw_pass  # noqa: E402
from silo import local_model  # noqa: E402
from silo.llm import Client, LLMSettings  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def burn(f: float, burst_s: float, stop) -> tuple[float, float]:
    """Take a fraction f of one core: spin for `burst_s` of this process's CPU, then sleep until the next cycle
    starts (cycles of burst_s / f wall on a fixed clock, so oversleeping does not add up; a cycle more than one
    late starts afresh, no back-to-back catch-up), until `stop(timeout)` (called as the sleep) returns True.
    Returns (CPU s, wall s)."""
    cycle = burst_s / f
    c_start = time.process_time()
    w_start = due = time.perf_counter()
    while True:
        c0 = time.process_time()
        while time.process_time() - c0 < burst_s:
            pass
        due = max(due + cycle, time.perf_counter() - cycle)
        if stop(max(0.0, due - time.perf_counter())):
            return time.process_time() - c_start, time.perf_counter() - w_start


def burner_main(f: float, burst_s: float) -> None:
    """The burner process: 'ready', then burn from 'go' on stdin until stdin closes; prints its CPU and wall."""
    print("ready", flush=True)
    sys.stdin.readline()
    cpu, wall = burn(f, burst_s, lambda t: bool(select.select([sys.stdin], [], [], t)[0]))
    print(json.dumps({"cpu_s": cpu, "wall_s": wall}), flush=True)


def serve_main() -> None:
    """The server process: start the embedded server, print its base URL, stop when stdin closes."""
    url = local_model.server_for(MODEL).start()
    print(url, flush=True)
    sys.stdin.read()
    local_model.close_all()


def _child(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) / TICK, steal / TICK


class Window:
    """CPU of this process, the server, the machine, and the load average, from start to stop of a pass."""

    def __init__(self, server_pid: int):
        self.pid = server_pid
        self.load0, self.start_utc = _load(), time.strftime("%H:%M:%S", time.gmtime())
        self.t0, self.me0, self.srv0, self.mach0 = time.perf_counter(), self._me(), _proc_cpu(server_pid), _machine()

    @staticmethod
    def _me() -> float:
        t = os.times()
        return t.user + t.system

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        busy, steal = (b - a for a, b in zip(self.mach0, _machine(), strict=True))
        return {"window_s": round(wall, 3), "client_cpu_s": round(self._me() - self.me0, 3),
                "server_cpu_s": round(_proc_cpu(self.pid) - self.srv0, 2), "machine_busy_s": round(busy, 2),
                "steal_s": round(steal, 2), "load_start": self.load0, "load_end": _load(), "start_utc": self.start_utc}


def one_pass(convs: list[list[dict]], path: str, dose: float, burst_s: float, lanes: int) -> dict:
    """One pass on a fresh server in a child process: raw (with a burner at `dose` if > 0) or client."""
    server = _child("--serve")
    srv = local_model.server_for(MODEL)
    try:
        base = server.stdout.readline().strip()
        srv._server, srv._address = "child", base.removesuffix("/v1")  # raw_pass and the Client call it
        burner = _child("--burn", str(dose), str(burst_s)) if dose > 0 else None
        if burner:
            burner.stdout.readline()
        win = Window(server.pid)
        if burner:
            burner.stdin.write("go\n")
            burner.stdin.flush()
        fn = raw_pass if path == "raw" else client_pass
        res = fn(convs, lanes)
        burned = {"cpu_s": 0.0, "wall_s": 0.0}
        if burner:
            burner.stdin.close()
            burned = json.loads(burner.stdout.readline())
            burner.wait()
        res.update(win.stop())
    finally:
        srv._server = srv._address = None
        server.stdin.close()
        server.wait(timeout=60)
    res.update(path=path, dose_target=dose, burner_cpu_s=round(burned["cpu_s"], 3),
               burner_wall_s=round(burned["wall_s"], 3),
               dose=round(burned["cpu_s"] / burned["wall_s"], 4) if burned["wall_s"] else 0.0)
    res["others_cpu_s"] = round(res["machine_busy_s"] - res["client_cpu_s"] - res["server_cpu_s"]
                                - res["burner_cpu_s"], 2)
    return res


def schedule(doses: list[float], blocks: int) -> list[tuple[str, float]]:
    """Blocks of raw passes at every dose, a client pass beside each block's dose-0 pass, the order reversed every
    other block: (client, 0, a, b, c), (c, b, a, 0, client), ... so a drift in the machine favours no dose."""
    block = [("client", 0.0)] + [("raw", d) for d in sorted(doses)]
    return [p for i in range(blocks) for p in (block if i % 2 == 0 else block[::-1])]


def warm_client() -> None:
    """One client request on the first server, outside every window: the process's first litellm call pays lazy
    imports (over a second of CPU) that no pass should carry."""
    async def go():
        await Client(LLMSettings(model=MODEL, cache=False, max_tokens=1)).complete(WARMUP["messages"], None, None)

    server = _child("--serve")
    srv = local_model.server_for(MODEL)
    try:
        srv._server, srv._address = "child", server.stdout.readline().strip().removesuffix("/v1")
        bench_llm._litellm()
        asyncio.run(go())
    finally:
        srv._server = srv._address = None
        server.stdin.close()
        server.wait(timeout=60)


def run(args) -> None:
    convs = fixed_length(logged_conversations(args.run_dir, args.agents), args.fixed_tokens)
    n = sum(map(len, convs))
    print(f"{n} requests of {len(convs)} agents, {args.fixed_tokens} tokens each", flush=True)
    lanes, s = args.concurrency[-1], local_model.ServerSettings.from_env()
    warm_client()
    until = time.strptime(args.until, "%H:%M") if args.until else None
    last = 0.0
    for i, (path, dose) in enumerate(schedule(args.doses, args.blocks), 1):
        now = time.gmtime()
        if until and (now.tm_hour * 60 + now.tm_min + last / 60) > until.tm_hour * 60 + until.tm_min:
            print(f"stopping before pass {i}: it would end after {args.until} UTC", flush=True)
            break
        res = one_pass(convs, path, dose, args.burst_ms / 1000, lanes)
        res.update(index=i, concurrency=lanes, fixed_tokens=args.fixed_tokens, expected_tokens=args.fixed_tokens * n,
                   server={"slots": s.slots, "ctx_per_slot": s.ctx_per_slot, "threads": s.threads},
                   valid=res["output_tokens"] == args.fixed_tokens * n
                   and res["min_output_tokens"] == res["max_output_tokens"])
        last = max(last, res["window_s"] + 10)  # the longest pass so far, and a fresh server
        print(f"pass {i} {path} dose {dose} (measured {res['dose']:.3f}): wall {res['wall_s']} s, client CPU "
              f"{res['client_cpu_s']} s, server {res['server_cpu_s']} s, others {res['others_cpu_s']} s, steal "
              f"{res['steal_s']} s, tokens {res['output_tokens']}, load {res['load_start']} -> {res['load_end']}"
              f"{'' if res['valid'] else '  INVALID'}", flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(res) + "\n")


def ols(x: list[list[float]], y: list[float]):
    """Least squares y = X beta: (beta, covariance of beta, residual degrees of freedom)."""
    import numpy as np

    X, Y = np.asarray(x, float), np.asarray(y, float)
    beta, *_ = np.linalg.lstsq(X, Y, rcond=None)
    dof = len(Y) - X.shape[1]
    s2 = float(((Y - X @ beta) ** 2).sum()) / dof
    return beta, s2 * np.linalg.inv(X.T @ X), dof


def _tq(dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def block_of(p: dict, per_block: int) -> int:
    """The schedule's block a pass ran in (blocks of `per_block` passes, numbered from 0)."""
    return (p["index"] - 1) // per_block


def dose_fit(raw: list[dict], degree: int = 1, others: bool = False, per_block: int = 0) -> dict:
    """wall = a + b x dose (+ c x dose^2) (+ e x others' core fraction) over the raw passes: b / a, the relative
    slowdown per core of dose at dose 0, with a 95% interval (delta method). With `per_block`, each block of the
    schedule has its own a (a slow drift of the machine then cancels within blocks) and a is their mean."""
    blocks = sorted({block_of(p, per_block) for p in raw}) if per_block else [0]
    rows = [[float(not per_block or block_of(p, per_block) == k) for k in blocks]
            + [p["dose"] ** k for k in range(1, degree + 1)]
            + ([p["others_cpu_s"] / p["window_s"]] if others else []) for p in raw]
    beta, cov, dof = ols(rows, [p["wall_s"] for p in raw])
    m = len(blocks)
    a, b = float(beta[:m].mean()), float(beta[m])
    grad = [-b / a**2 / m] * m + [1 / a] + [0.0] * (len(beta) - m - 1)
    se = sum(grad[i] * grad[j] * float(cov[i][j]) for i in range(len(beta)) for j in range(len(beta))) ** 0.5
    half = _tq(dof) * se
    tail = [(float(beta[k]), float(cov[k][k]) ** 0.5) for k in range(m, len(beta))]
    return {"a": a, "b": b, "tail": tail, "dof": dof, "n": len(raw), "blocks": m, "rel": b / a, "rel_se": se,
            "rel_lo": b / a - half, "rel_hi": b / a + half}


def extra_cpu(passes: list[dict]) -> dict:
    """The client's extra core fraction: this process's CPU per second of wall, client passes minus the dose-0 raw
    passes (Welch's interval)."""
    from scipy import stats

    zero = {k: [p for p in passes if p["path"] == k and p["dose_target"] == 0] for k in ("client", "raw")}
    rate = {k: [p["client_cpu_s"] / p["window_s"] for p in v] for k, v in zero.items()}
    c, r = rate["client"], rate["raw"]
    e = statistics.mean(c) - statistics.mean(r)
    vc, vr = statistics.variance(c) / len(c), statistics.variance(r) / len(r)
    se = (vc + vr) ** 0.5
    dof = (vc + vr) ** 2 / (vc**2 / (len(c) - 1) + vr**2 / (len(r) - 1))
    half = float(stats.t.ppf(0.975, dof)) * se
    return {"client": statistics.mean(c), "raw": statistics.mean(r), "e": e, "e_se": se, "lo": e - half,
            "hi": e + half, "n_client": len(c), "n_raw": len(r), "per_request_ms": 1000 * (
                statistics.mean(p["client_cpu_s"] for p in zero["client"])
                - statistics.mean(p["client_cpu_s"] for p in zero["raw"])) / passes[0]["requests"]}


def render(passes: list[dict], source: str) -> str:
    lines = [f"Passes from `{source}`.", "",
             "| # | path | dose asked | dose measured (core) | wall | client-process CPU / wall | server CPU"
             " | others' CPU | steal | output tokens | prompt tokens processed | load (1 min) start -> end |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in passes:
        lines.append(f"| {p['index']} | {p['path']} | {p['dose_target']} | {p['dose']:.3f} | {p['wall_s']} s | "
                     f"{p['client_cpu_s'] / p['window_s']:.4f} | {p['server_cpu_s']} s | {p['others_cpu_s']} s | "
                     f"{p['steal_s']} s | {p['output_tokens']}{'' if p['valid'] else ' (invalid)'} | "
                     f"{p['prompt_tokens'] - p['cached_tokens']} | "
                     f"{p['load_start'][0]} -> {p['load_end'][0]} |")
    ok = [p for p in passes if p["valid"]]
    raw = [p for p in ok if p["path"] == "raw"]
    lines.append("")
    for dose in sorted({p["dose_target"] for p in raw}):
        ws = [p["wall_s"] for p in raw if p["dose_target"] == dose]
        ds = [p["dose"] for p in raw if p["dose_target"] == dose]
        sd = f", stdev {statistics.stdev(ws):.1f} s" if len(ws) > 1 else ""
        lines.append(f"- dose {dose}: {len(ws)} raw passes, measured dose {statistics.mean(ds):.3f}, "
                     f"wall mean {statistics.mean(ws):.1f} s{sd}.")
    if len(raw) < 3 or len({p["dose_target"] for p in raw}) < 2:
        return "\n".join(lines + ["- too few raw passes for a fit."])
    top = max(p["dose_target"] for p in raw)
    below = [p for p in raw if p["dose_target"] < top]
    per = len({p["dose_target"] for p in raw}) + 1  # a block: every dose and one client pass
    specs = [("linear, all doses", raw, 1, False, 0), (f"linear, doses below {top}", below, 1, False, 0),
             ("quadratic, all doses (slope at 0)", raw, 2, False, 0),
             ("linear, all doses, an intercept per block", raw, 1, False, per),
             ("quadratic, all doses, an intercept per block (slope at 0)", raw, 2, False, per),
             (f"linear, doses below {top}, an intercept per block", below, 1, False, per),
             ("linear, all doses, others' CPU as a second dose", raw, 1, True, 0)]
    fits = []
    for name, sub, deg, oth, blk in specs:
        cols = (len({block_of(p, blk) for p in sub}) if blk else 1) + deg + oth
        if len({p["dose_target"] for p in sub}) > deg and len(sub) > cols:
            fits.append((name, dose_fit(sub, deg, oth, blk)))
    for name, fit in fits:
        names = [" x dose", " x dose^2"][:len(fit["tail"]) - ("others" in name)] + [" x others' core fraction"]
        terms = "".join(f" + {c:.1f} (se {e:.1f}){x}" for (c, e), x in zip(fit["tail"], names, strict=False))
        a = f"{fit['a']:.1f} (mean of {fit['blocks']} block intercepts)" if fit["blocks"] > 1 else f"{fit['a']:.1f}"
        lines.append(f"- fit {name} ({fit['n']} raw passes): wall = {a}{terms} s; b / a = **{fit['rel']:.3f}** of "
                     f"wall per core of dose (95% interval {fit['rel_lo']:.3f} to {fit['rel_hi']:.3f}).")
    lin = fits[0][1]
    for dose in sorted({p["dose_target"] for p in raw}):
        ds = [p["dose"] for p in raw if p["dose_target"] == dose]
        ws = [p["wall_s"] for p in raw if p["dose_target"] == dose]
        line = lin["a"] + lin["b"] * statistics.mean(ds)
        lines.append(f"  - dose {dose}: mean wall {statistics.mean(ws):.1f} s, linear fit {line:.1f} s "
                     f"({statistics.mean(ws) - line:+.1f} s).")
    if sum(p["path"] == "client" for p in ok) >= 2:
        x = extra_cpu(ok)
        lines.append(f"- client process CPU per second of wall: client {x['client']:.4f}, raw {x['raw']:.4f} "
                     f"({x['n_client']} and {x['n_raw']} passes); extra **{x['e']:.4f}** core (95% interval "
                     f"{x['lo']:.4f} to {x['hi']:.4f}), {x['per_request_ms']:.2f} ms a request.")
        for name, fit in fits:
            term = fit["rel"] * x["e"] * 100
            se = ((fit["rel_se"] * x["e"]) ** 2 + (fit["rel"] * x["e_se"]) ** 2) ** 0.5 * 100
            lines.append(f"- co-located term, {name}: b / a x extra = **{term:.2f}%** of wall (95% interval "
                         f"{term - 1.96 * se:.2f} to {term + 1.96 * se:.2f}%); both upper ends multiplied: "
                         f"{fit['rel_hi'] * x['hi'] * 100:.2f}%.")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--burn":
        return burner_main(float(sys.argv[2]), float(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        return serve_main()
    ap = bench_llm.arguments(__doc__)
    ap.add_argument("--fixed-tokens", type=int, default=8, metavar="K", help="output tokens of every request")
    ap.add_argument("--doses", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5], help="fractions of one core")
    ap.add_argument("--blocks", type=int, default=2, help="blocks of (client, every dose), alternately reversed")
    ap.add_argument("--burst-ms", type=float, default=3.0, help="the burner's CPU per burst")
    ap.add_argument("--until", help="HH:MM UTC: start no pass that would end after this")
    ap.add_argument("--json", help="append one JSON line per pass to this file")
    ap.add_argument("--fit", help="render the table and fit of a --json file, run nothing")
    ap.add_argument("--out", help="with --fit: write the text to this file")
    args = ap.parse_args()
    if args.fit:
        text = render([json.loads(x) for x in Path(args.fit).read_text().splitlines() if x.strip()], args.fit)
        print(text)
        if args.out:
            Path(args.out).write_text(text + "\n")
        return
    run(args)


if __name__ == "__main__":
    main()
