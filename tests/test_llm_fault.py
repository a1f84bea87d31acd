"""Retries, errors, tool calls, caching and replay against a local fault-injecting HTTP server."""

import asyncio
import json

import pytest

from fault_server import FaultServer, warm_litellm
from silo.agents.llm_agent import llm_team, replay_messages
from silo.episode import run_episode
from silo.llm import Client, LLMError, LLMSettings
from silo.records import EpisodeConfig
from silo.tasks import get_task

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'
FAST = {"retries": 2, "backoff_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 3, "breaker_failures": 100}


def settings(fs, **kw):
    return LLMSettings(model="openai/fault", api_base=fs.base, api_key_env="SILO_FAULT_KEY", cache=False,
                       **{**FAST, **kw})


@pytest.fixture(scope="module", autouse=True)
def litellm_warmed():
    warm_litellm()


@pytest.fixture(autouse=True)
def fault_key(monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")


def call(fs, messages=None, **kw):
    attempts = []
    client = Client(settings(fs, **kw))
    msgs = messages or [{"role": "user", "content": "hi"}]
    reply = asyncio.run(client.complete(msgs, on_attempt=attempts.append))
    return reply, attempts


def test_transient_errors_are_retried_then_succeed():
    with FaultServer() as fs:
        fs.queue(("status", 429), ("garbage", "not json {"), ("ok", SUBMIT_7))
        reply, attempts = call(fs)
    assert reply.content == SUBMIT_7
    assert len(fs.requests) == 3  # litellm and the OpenAI client did not retry on their own
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert "RateLimitError" in attempts[0]["error"] and attempts[1]["error"] and attempts[2]["error"] is None
    chars = len(json.dumps([{"role": "user", "content": "hi"}]))
    assert (attempts[2]["input_tokens"], attempts[2]["output_tokens"]) == (chars // 4, 7)  # the server's usage


def test_retries_are_bounded():
    with FaultServer(default=("status", 500)) as fs:
        with pytest.raises(LLMError, match="after 3 attempt"):
            call(fs)
        assert len(fs.requests) == 3  # 1 + retries


def test_timeout_is_transient_and_bounded():
    with FaultServer(default=("hang", None)) as fs:
        with pytest.raises(LLMError, match="Timeout"):
            call(fs, retries=1, timeout_s=0.5)
        assert len(fs.requests) == 2


def test_permanent_errors_are_not_retried():
    with FaultServer(default=("status", 401)) as fs:
        with pytest.raises(LLMError, match="AuthenticationError"):
            call(fs)
        assert len(fs.requests) == 1


def test_refused_connection_is_transient():
    s = LLMSettings(model="openai/fault", api_base="http://127.0.0.1:1/v1", cache=False, **{**FAST, "retries": 1})
    attempts = []
    with pytest.raises(LLMError, match="after 2 attempt"):
        asyncio.run(Client(s).complete([{"role": "user", "content": "x"}], on_attempt=attempts.append))
    assert all(a["transient"] for a in attempts)


def test_missing_key_variable_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SILO_FAULT_KEY")
    with FaultServer() as fs, pytest.raises(LLMError, match="SILO_FAULT_KEY"):
        call(fs)


def episode_cfg(fs, **extra):
    opts = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, **FAST, **extra}
    return EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="llm", models=["openai/fault"] * 2,
                         max_rounds=3, action_budget=3, extra=opts)


def run(cfg):
    inst = get_task(cfg.task).make_instance(cfg.n_agents, 0, cfg.replicate)
    return asyncio.run(run_episode(inst, cfg, llm_team(inst, cfg)))


def test_exhausted_retries_end_the_episode_in_error_and_a_rerun_completes():
    with FaultServer(default=("status", 503)) as fs:
        cfg = episode_cfg(fs)
        ep = run(cfg)
        assert ep.status == "error"
        assert "503" in ep.error and "after 3 attempt" in ep.error
        calls = [e for e in ep.events if e.kind == "model_call"]
        assert calls and all(e.data["error"] for e in calls)
        assert {e.data["attempt"] for e in calls} == {1, 2, 3}
        assert not ep.submissions  # an error is never scored as an answer
        fs.default = ("ok", SUBMIT_7)
        again = run(cfg)
    assert again.status == "complete" and [s.answer for s in again.submissions] == [7, 7]


def test_malformed_replies_are_counted_errors_not_crashes():
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        fs.queue(("ok", "I think the answer is big."), ("ok", '{"name": "fly", "arguments": {}}'))
        ep = run(episode_cfg(fs, action_mode="json", no_action_retries=0))  # re-asking: test_reliability_llm
    errors = [e for e in ep.events if e.kind == "error"]
    assert ep.status == "complete"
    assert len(errors) == 2  # one unreadable reply, one unknown action (rejected by the protocol)
    assert {"malformed action" in str(e.result) for e in errors} == {True, False}


def agent_of(request) -> int:
    return int(request["messages"][0]["content"].split("You are agent ")[1][0])


def turns(request) -> int:
    return sum(m["role"] == "assistant" for m in request["messages"])


def test_native_tool_calls_and_tool_errors():
    def script(request):  # agent 0: send, wait, (receive: after wait, not executed); agent 1: bad arguments
        if turns(request) == 0:
            if agent_of(request) == 0:
                send = ("send_message", '{"target_id": 1, "content": "max 5"}')
                return ("tool", [send, ("wait", "{}"), ("receive_messages", "{}")])
            return ("tool", [("send_message", "target_id=1")])
        return ("tool", [("submit_result", '{"answer": 3}')])

    with FaultServer(default=script) as fs:
        ep = run(episode_cfg(fs, action_mode="tools"))
        first, received = fs.requests[0], fs.requests
    assert ep.status == "complete"
    assert [t["function"]["name"] for t in first["tools"]] == ["send_message", "receive_messages", "wait",
                                                               "submit_result"]
    sends = [e for e in ep.events if e.kind == "send"]
    assert len(sends) == 1 and sends[0].content == "max 5"
    errors = [e for e in ep.events if e.kind == "error"]
    assert len(errors) == 1 and "malformed" in errors[0].result  # arguments that are not JSON
    # the call after wait was answered (every tool call id needs a reply) but not executed
    followup = next(r["messages"] for r in received if sum(m["role"] == "tool" for m in r["messages"]) >= 3)
    tool_msgs = [m for m in followup if m["role"] == "tool"][:3]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_0", "call_1", "call_2"]
    assert "not executed" in tool_msgs[2]["content"]


def test_logged_messages_replay_exactly_what_was_sent():
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        fs.queue(*[("ok", '{"name": "receive_messages", "arguments": {}}')] * 4, ("ok", "garbage"),
                 ("ok", '{"name": "wait", "arguments": {}}'), ("status", 500))
        ep = run(episode_cfg(fs, max_tokens=64))
        received = fs.requests
    by_agent = {a: replay_messages(ep.events, a) for a in (0, 1)}
    replayed = sorted(json.dumps(m, sort_keys=True) for msgs in by_agent.values() for m in msgs)
    sent = sorted(json.dumps(r["messages"], sort_keys=True) for r in received)
    assert replayed == sent
    first = next(e for e in ep.events if e.kind == "model_call")
    assert first.data["response_format"] is None and first.data["sampling"] == {"max_tokens": 64}
    assert first.data["prefix_len"] == 0 and first.data["messages"][0]["role"] == "system"


def test_api_key_is_sent_but_never_recorded(tmp_path):
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        ep = run(episode_cfg(fs, cache=True, cache_dir=str(tmp_path)))
        auth = {k.lower(): v for k, v in fs.headers[0].items()}.get("authorization")
    assert auth == "Bearer sk-fault-secret-123"
    assert "sk-fault-secret" not in ep.model_dump_json()
    files = list(tmp_path.rglob("*.json"))
    assert files and all("sk-fault-secret" not in f.read_text() for f in files)


def test_cache_replays_an_episode_exactly_and_keeps_replicates_apart(tmp_path):
    script = [("ok", '{"name": "receive_messages", "arguments": {}}'), ("ok", '{"name": "wait", "arguments": {}}')]
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        fs.queue(*script)
        cfg = episode_cfg(fs, cache=True, cache_dir=str(tmp_path))
        first = run(cfg)
        n = len(fs.requests)
        fs.queue(("ok", '{"name": "submit_result", "arguments": {"answer": 99}}'))  # would change the answer
        second = run(cfg)
        assert len(fs.requests) == n  # every call answered from the cache
        other = run(cfg.model_copy(update={"replicate": 1}))
        assert len(fs.requests) > n  # another replicate is another sample
    strip = {"cached", "latency_s"}

    def view(ep):
        return [(e.kind, e.round, e.agent, e.action, {k: v for k, v in e.data.items() if k not in strip})
                for e in ep.events]

    assert view(first) == view(second)
    assert all(e.data["cached"] for e in second.events if e.kind == "model_call")
    assert first.usage.input_tokens == second.usage.input_tokens > 0
    # the other replicate asked the server: one of its two agents (whichever called first) took the queued 99
    assert sorted(s.answer for s in other.submissions) == [7, 99]


def test_history_is_elided_near_the_context_window():
    def chatty(request):  # broadcast a long message, then read what arrived, alternately
        turns = sum(m["role"] == "assistant" for m in request["messages"])
        if turns % 2:
            return ("ok", '{"name": "receive_messages", "arguments": {}}')
        return ("ok", json.dumps({"name": "broadcast_message", "arguments": {"content": "x" * 400}}))

    with FaultServer(default=chatty) as fs:
        cfg = episode_cfg(fs, context_window=1500, max_tokens=64)
        ep = run(cfg.model_copy(update={"max_rounds": 5, "protocol": "broadcast"}))
    notes = [e for e in ep.events if e.kind == "note" and "context_shrunk" in e.data]
    assert notes, "no elision logged"
    d = notes[0].data["context_shrunk"]
    assert d["elided"] >= 1 and d["est_tokens_after"] < d["est_tokens_before"]
    last = replay_messages(ep.events, 0)[-1]
    assert any("elided to fit the context window" in str(m["content"]) for m in last)
    assert last[0]["role"] == "system" and "[elided" not in last[0]["content"]  # the task is never elided
