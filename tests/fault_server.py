"""Test double: an OpenAI-compatible chat endpoint on 127.0.0.1 that fails on demand.

Each incoming request takes the next behaviour from a programmable queue (else `default`, a
behaviour or a function of the request body returning one):
  ("ok", content)   200 with a chat completion whose message content is `content`
  ("tool", calls)   200 with tool calls [(name, arguments-json-string), ...]
  ("status", code)  an error status (429, 500, 503, ...) with an OpenAI-style error body
  ("garbage", text) 200 with a body that is not JSON
  ("hang", None)    never answer (until the server closes): the client must time out
  ("retry_after", (code, seconds))  an error status with a Retry-After header
  ("trickle", content)  200 whose body arrives one byte every 0.2 s (bounded: the server stops on close)
  ("echo_key", code)    an error status whose body quotes the request's Authorization header
  ("raw", (code, body, headers))  any status with `body` (bytes/str as is; else JSON, NaN allowed)
  ("usage", (content, usage))  200 with content and the given `usage` object (None: no usage field)
  ("cut", content)      200 whose body stops half-way: the connection is closed mid-body
  ("sse", content)      200 with a streaming-style (text/event-stream) body to a non-streaming request
The real model cannot fail on demand; this is the only place a double is used.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = tuple[str, Any]


class FaultServer:
    """Start with `with FaultServer() as fs:`; program with fs.queue(...); read fs.requests."""

    def __init__(self, default: Behaviour = ("ok", '{"name": "wait", "arguments": {}}')):
        self.default = default
        self.plan: deque[Behaviour] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.answered: list[dict] = []  # requests whose 200 reply was sent in full
        self.only_auth: str | None = None  # when set, a request with another Authorization header is a stray:
        self.strays: list[dict] = []  # answered 400 and recorded here, never taking a behaviour from the queue
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.plan.extend(behaviours)

    def next(self, request: dict) -> Behaviour:
        with self._lock:
            if self.plan:
                return self.plan.popleft()
        return self.default(request) if callable(self.default) else self.default

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        fs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.req = req = json.loads(body or b"{}")
                with fs._lock:
                    stray = fs.only_auth is not None and self.headers.get("Authorization") != fs.only_auth
                    (fs.strays if stray else fs.requests).append(req)
                    if not stray:
                        fs.headers.append(dict(self.headers))
                kind, arg = ("status", 400) if stray else fs.next(req)
                if kind == "hang":
                    fs._closing.wait(30)
                    return
                if kind == "status":
                    err = {"error": {"message": f"injected {arg}", "type": "injected", "code": arg}}
                    return self._send(arg, json.dumps(err).encode())
                if kind == "retry_after":
                    code, secs = arg
                    err = {"error": {"message": f"injected {code}", "type": "injected", "code": code}}
                    return self._send(code, json.dumps(err).encode(), {"Retry-After": str(secs)})
                if kind == "echo_key":
                    auth = self.headers.get("Authorization", "")
                    err = {"error": {"message": f"invalid key {auth}", "type": "injected", "code": arg}}
                    return self._send(arg, json.dumps(err).encode())
                if kind == "trickle":
                    return self._trickle(json.dumps(completion("ok", arg)).encode())
                if kind == "garbage":
                    return self._send(200, str(arg).encode())
                if kind == "raw":
                    code, raw, headers = arg
                    data = raw if isinstance(raw, bytes) else str(raw).encode() if isinstance(raw, str) else None
                    return self._send(code, data if data is not None else json.dumps(raw).encode(), headers)
                if kind == "cut":
                    return self._cut(json.dumps(completion("ok", arg)).encode())
                if kind == "sse":
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fault",
                             "choices": [{"index": 0, "delta": {"role": "assistant", "content": arg}}]}
                    data = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
                    return self._send(200, data, {"Content-Type": "text/event-stream"})
                if kind == "usage":
                    content, usage = arg
                    body = completion("ok", content)
                    body.pop("usage")
                    if usage is not None:
                        body["usage"] = usage
                    return self._send(200, json.dumps(body).encode())
                prompt_tokens = len(json.dumps(req.get("messages", []))) // 4
                return self._send(200, json.dumps(completion(kind, arg, prompt_tokens)).encode())

            def _trickle(self, payload: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                for k in range(len(payload)):
                    if fs._closing.wait(0.2):
                        return
                    try:
                        self.wfile.write(payload[k:k + 1])
                        self.wfile.flush()
                    except OSError:
                        return

            def _cut(self, payload: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # SHUT_RDWR: the client sees the body end early

            def _send(self, code: int, payload: bytes, headers: dict | None = None):
                self.send_response(code)
                headers = {"Content-Type": "application/json", **(headers or {})}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if code == 200:
                    with fs._lock:
                        fs.answered.append(self.req)

        return Handler


def completion(kind: str, arg: Any, prompt_tokens: int = 11) -> dict:
    """A minimal OpenAI chat completion body; usage reports one prompt token per 4 characters of messages."""
    msg: dict[str, Any] = {"role": "assistant", "content": arg if kind == "ok" else None}
    if kind == "tool":
        msg["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                             for i, (n, a) in enumerate(arg)]
    return {
        "id": "chatcmpl-fault", "object": "chat.completion", "created": int(time.time()), "model": "fault",
        "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if kind == "tool" else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 7, "total_tokens": prompt_tokens + 7},
    }


def warm_litellm() -> None:
    """Make one call through silo's client so a process's first litellm call (seconds of lazy imports on a
    loaded machine) is not timed by the first test, which would see a timeout it did not inject."""
    import asyncio

    from silo.llm import Client, LLMSettings

    with FaultServer() as fs:
        s = LLMSettings(model="openai/fault", api_base=fs.base, cache=False, retries=0, timeout_s=300)
        asyncio.run(Client(s).complete([{"role": "user", "content": "warm-up"}]))
