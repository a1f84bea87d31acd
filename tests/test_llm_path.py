"""The per-request path's shortcuts (issue 16 target 4) keep what they skip unobservable: litellm's
logging is off for our calls only, cost and tokens are what the prices say, the cache key is unchanged."""

import asyncio
import hashlib
import json

import pytest

import fault_server
from fault_server import FaultServer
from silo import llm
from silo.llm import Client, LLMSettings, _litellm

SUBMIT = '{"name": "submit_result", "arguments": {"answer": 7}}'
MSGS = [{"role": "system", "content": "You are agent 0."}, {"role": "user", "content": "Round 1."}]


def settings(fs, model="openai/fault", **kw):
    return LLMSettings(model=model, api_base=fs.base, retries=0, timeout_s=60, **{"cache": False, **kw})


@pytest.fixture
def recorder():
    """A litellm success callback that records every call litellm logs."""
    from litellm.integrations.custom_logger import CustomLogger

    litellm = _litellm()

    class Recorder(CustomLogger):
        def __init__(self):
            super().__init__()
            self.calls = []

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            self.calls.append(kwargs.get("model"))

    rec, before = Recorder(), list(litellm.callbacks)
    litellm.callbacks = [*before, rec]
    yield rec
    litellm.callbacks = before


def test_our_calls_carry_litellms_no_logging_flag_when_nobody_listens(monkeypatch):
    from litellm._internal_context import is_internal_call

    litellm, seen = _litellm(), []
    plain = litellm.acompletion

    async def spy(**kw):
        seen.append(is_internal_call.get())
        return await plain(**kw)

    monkeypatch.setattr(litellm, "acompletion", spy)
    with FaultServer(default=("ok", SUBMIT)) as fs:
        asyncio.run(Client(settings(fs)).complete(MSGS))
    assert seen == [True]  # silo's call: no logging task, no second cost calculation (we log every attempt)
    assert is_internal_call.get() is False  # and the flag does not outlive the call


def test_a_users_litellm_callbacks_still_see_our_calls(recorder):
    """A callback the user set (an observability logger a plugin adds) is not silenced by our flag."""
    async def one(fs):  # a model name of its own: litellm may still be logging other tests' calls
        await Client(settings(fs, "openai/callback-probe")).complete(MSGS)
        for _ in range(50):
            if "callback-probe" in recorder.calls:
                break
            await asyncio.sleep(0.1)

    with FaultServer(default=("ok", SUBMIT)) as fs:
        asyncio.run(one(fs))
    assert recorder.calls.count("callback-probe") == 1


def test_cost_and_tokens_of_a_priced_model_are_the_price_maps(monkeypatch):
    price = _litellm().model_cost["gpt-4o-mini"]
    plain = fault_server.completion  # litellm prices the model a reply names: have it name gpt-4o-mini
    monkeypatch.setattr(fault_server, "completion", lambda *a: {**plain(*a), "model": "gpt-4o-mini"})
    with FaultServer(default=("ok", SUBMIT)) as fs:
        reply = asyncio.run(Client(settings(fs, "openai/gpt-4o-mini")).complete(MSGS))
        sent = fs.requests[0]
    tokens_in = len(json.dumps(sent["messages"])) // 4  # what the fault server reports as usage
    assert (reply.input_tokens, reply.output_tokens) == (tokens_in, 7)
    want = tokens_in * price["input_cost_per_token"] + 7 * price["output_cost_per_token"]
    assert reply.cost_usd == pytest.approx(want, rel=1e-9) and reply.cost_usd > 0


def test_cache_entries_keep_their_key_and_name_it(tmp_path):
    with FaultServer(default=("ok", SUBMIT)) as fs:
        client = Client(settings(fs, cache=True, cache_dir=str(tmp_path), max_tokens=64), replicate=3)
        first = asyncio.run(client.complete(MSGS))
        (entry,) = tmp_path.rglob("*.json")
        again = asyncio.run(client.complete(MSGS))
        assert len(fs.requests) == 1  # answered from the entry
    # the key as the cache has always made it, from the request's fields built here independently
    fields = {"v": 1, "model": "openai/fault", "api_base": fs.base, "messages": MSGS, "tools": None,
              "response_format": None, "sampling": {"max_tokens": 64}, "replicate": 3}
    old_key = hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    stored = json.loads(entry.read_text())
    assert entry.stem == old_key and entry.parent.name == old_key[:2]
    assert stored["key_fields"] == fields and stored["response"]["content"] == SUBMIT
    assert again == first


def test_cache_writes_recreate_a_removed_directory(tmp_path):
    root = tmp_path / "cache"
    with FaultServer(default=("ok", SUBMIT)) as fs:
        client = Client(settings(fs, cache=True, cache_dir=str(root)))
        asyncio.run(client.complete(MSGS))
        for f in root.rglob("*.json"):
            f.unlink()
        for d in root.iterdir():
            d.rmdir()
        root.rmdir()  # removed under a running client: its next store makes the directories again
        client.replicate = 1
        asyncio.run(client.complete(MSGS))
    assert len(list(root.rglob("*.json"))) == 1 and not list(root.rglob("*.tmp"))


def test_only_calls_marked_unpriced_skip_litellms_pricing_step():
    litellm = _litellm()

    async def call(fs, free: bool):
        token = llm._UNPRICED.set(free)  # set by Client._attempt for the embedded model only
        try:
            return await litellm.acompletion(model="openai/fault", messages=MSGS, api_base=fs.base, api_key="sk-x",
                                             num_retries=0, max_retries=0, timeout=60)
        finally:
            llm._UNPRICED.reset(token)

    with FaultServer(default=("ok", SUBMIT)) as fs:
        free, paid = asyncio.run(call(fs, True)), asyncio.run(call(fs, False))
    assert "response_cost" in paid._hidden_params and "litellm_model_name" in paid._hidden_params
    assert "response_cost" not in free._hidden_params and free.choices[0].message.content == SUBMIT


def test_cpu_benchmark_script_runs_small(tmp_path):
    """scripts/bench_llm_cpu.py end to end, tiny: the built-in request, this tree only, 3 requests a layer."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_llm_cpu.py"
    out = tmp_path / "cpu.md"
    subprocess.run([sys.executable, str(script), str(tmp_path / "no-run"), "--requests", "3", "--rounds", "1",
                    "--out", str(out)], check=True, capture_output=True, text=True, timeout=300)
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and " ms (" in line]
    assert len(rows) == 4 and "built-in request" in out.read_text()
    assert all(float(r.split("|")[2].split(" ms")[0]) > 0 for r in rows)
