"""Every kind of bad reply against the local fault server (127.0.0.1, bounded): Retry-After, trickled
bodies, empty/null/unreadable replies, outages and the circuit breaker, per-call budgets, wall-clock limits."""

import asyncio
import json
import threading
import time

import pytest

from fault_server import FaultServer, warm_litellm
from silo import episode_io
from silo.agents.llm_agent import llm_team
from silo.episode import run_episode
from silo.llm import Client, LLMError, LLMSettings
from silo.llm_cache import CallCache
from silo.records import EpisodeConfig, RunConfig
from silo.runner import Budget, EpisodeSpec, RunDir, expand, run_one, run_specs
from silo.tasks import get_task

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'
FAST = {"retries": 2, "backoff_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 3, "breaker_failures": 100,
        "outage_max_s": 5}


@pytest.fixture(scope="module", autouse=True)
def litellm_warmed():
    warm_litellm()  # test_retry_after_is_honoured failed once under load: its first call paid litellm's imports


@pytest.fixture(autouse=True)
def fault_key(monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")


def settings(fs, **kw):
    return LLMSettings(model="openai/fault", api_base=fs.base, api_key_env="SILO_FAULT_KEY",
                       **{"cache": False, **FAST, **kw})


def call(fs, **kw):
    attempts = []
    reply = asyncio.run(Client(settings(fs, **kw)).complete([{"role": "user", "content": "hi"}],
                                                            on_attempt=attempts.append))
    return reply, attempts


def test_retry_after_is_honoured():
    with FaultServer() as fs:
        fs.queue(("retry_after", (429, 1)), ("ok", SUBMIT_7))
        t0 = time.monotonic()
        reply, attempts = call(fs)
        took = time.monotonic() - t0
    assert reply.content == SUBMIT_7 and len(attempts) == 2
    assert took >= 0.95  # the server asked for 1 s; the backoff alone would be 0.01 s


def test_a_trickled_body_cannot_outlast_the_deadline():
    with FaultServer(default=("trickle", SUBMIT_7)) as fs:
        t0 = time.monotonic()
        with pytest.raises(LLMError, match="Timeout"):
            call(fs, retries=1, timeout_s=0.5)
        took = time.monotonic() - t0
    assert took < 4  # two attempts of at most ~1 s each, not the ~40 s the body takes to arrive


@pytest.mark.parametrize("empty", ["", None, "   "])
def test_empty_replies_are_retried_and_never_cached(tmp_path, empty):
    with FaultServer() as fs:
        fs.queue(("ok", empty), ("ok", SUBMIT_7))
        reply, attempts = call(fs, cache=True, cache_dir=str(tmp_path))
        assert reply.content == SUBMIT_7 and attempts[0]["error"] and attempts[0]["transient"]
        fs.default = ("ok", empty)
        with pytest.raises(LLMError, match="neither content nor tool calls"):
            asyncio.run(Client(settings(fs, cache=True, cache_dir=str(tmp_path))).complete(
                [{"role": "user", "content": "other"}]))
    stored = [json.loads(f.read_text())["response"]["content"] for f in tmp_path.rglob("*.json")]
    assert stored == [SUBMIT_7]  # only the reply that parsed


def _cfg(fs, **extra):
    opts = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, **FAST, "action_mode": "json",
            **extra}
    return EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="llm", models=["openai/fault"] * 2,
                         max_rounds=3, action_budget=3, extra=opts)


def _run(cfg):
    inst = get_task(cfg.task).make_instance(cfg.n_agents, 0, cfg.replicate)
    return asyncio.run(run_episode(inst, cfg, llm_team(inst, cfg)))


def test_unreadable_replies_are_asked_again_and_not_cached(tmp_path):
    seen: dict[str, int] = {}

    def first_unreadable(request):  # each agent's first request is answered with prose, then an action
        who = request["messages"][0]["content"].split("You are agent ")[1][0]
        seen[who] = seen.get(who, 0) + 1
        return ("ok", "I will think about it.") if seen[who] == 1 else ("ok", SUBMIT_7)

    with FaultServer(default=first_unreadable) as fs:
        ep = _run(_cfg(fs, cache=True, cache_dir=str(tmp_path)))
    assert ep.status == "complete" and [s.answer for s in ep.submissions] == [7, 7]
    assert not [e for e in ep.events if e.kind == "error"]  # asked again, not counted as the model's mistake
    noact = [e for e in ep.events if e.kind == "model_call" and str(e.data.get("error")).startswith("NoAction")]
    assert len(noact) == 2
    assert CallCache(tmp_path) and all("think about it" not in f.read_text() for f in tmp_path.rglob("*.json"))


def test_an_outage_pauses_calls_instead_of_failing_them():
    until = time.monotonic() + 1.5

    def outage(request):
        return ("status", 503) if time.monotonic() < until else ("ok", SUBMIT_7)

    async def many(s):
        return await asyncio.gather(*(Client(s).complete([{"role": "user", "content": f"q{i}"}]) for i in range(4)),
                                    return_exceptions=True)

    with FaultServer(default=outage) as fs:
        results = asyncio.run(many(settings(fs, retries=1, breaker_failures=2, breaker_pause_s=0.2)))
        hits = len(fs.requests)
    assert all(not isinstance(r, Exception) and r.content == SUBMIT_7 for r in results)
    assert hits < 25  # paused, not hammering: about 4 + one probe per pause
    until = time.monotonic() + 1.5
    with FaultServer(default=outage) as fs:  # the same outage without a breaker fails every call
        results = asyncio.run(many(settings(fs, retries=1, breaker_failures=1000)))
    assert all(isinstance(r, LLMError) for r in results)


def test_a_dead_endpoint_fails_after_outage_max():
    with FaultServer(default=("status", 503)) as fs:
        t0 = time.monotonic()
        with pytest.raises(LLMError, match="outage_max_s|attempt"):
            call(fs, retries=1, breaker_failures=1, breaker_pause_s=0.2, outage_max_s=0.5)
    assert time.monotonic() - t0 < 5


def _budgeted_run(fs, tmp_path, budget, **extra):
    """Four I-01 episodes of two LLM agents that broadcast until stopped, against the fault server."""
    extra = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, **FAST, "action_mode": "json",
             **extra}
    rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["broadcast"], teams=["llm"],
                   models=["openai/fault"], replicates=4, max_rounds=20, action_budget=3, extra=extra)
    rd = RunDir(tmp_path / "r")
    rd.init(rc)
    return asyncio.run(run_specs(expand(rc), rd, concurrency=2, budget=budget))


def test_token_ceiling_is_checked_per_model_call(tmp_path):
    chatty = json.dumps({"name": "broadcast_message", "arguments": {"content": "x"}})
    with FaultServer(default=("ok", chatty)) as fs:
        budget = Budget(max_tokens=5000)
        out = _budgeted_run(fs, tmp_path, budget)
        calls = len(fs.requests)
    biggest = max(len(json.dumps(r["messages"])) // 4 + 7 for r in fs.requests)
    assert out.stopped and "token budget" in out.stopped
    # over the ceiling by at most the calls in flight: 2 episodes x 2 agents, one call each
    assert budget.used.input_tokens + budget.used.output_tokens <= 5000 + 4 * biggest
    assert calls < 20 * 3 * 2 * 4  # far fewer than the episodes would have made


def test_episode_wall_clock_limit():
    class Stuck:
        async def take_turn(self, turn):
            await asyncio.sleep(30)

    cfg = EpisodeConfig(task="I-01", n_agents=2, protocol="p2p", team="oracle")
    spec = EpisodeSpec(cfg, runtime={"episode_timeout_s": 0.3})
    t0 = time.monotonic()
    ep = asyncio.run(run_one(spec, lambda inst, c: [Stuck(), Stuck()]))
    assert ep.status == "error" and "wall-clock limit" in ep.error and time.monotonic() - t0 < 3


def test_zero_concurrency_is_refused(tmp_path):
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(run_specs([], RunDir(tmp_path), concurrency=0))


def test_bounded_server_threads_end():
    before = threading.active_count()
    with FaultServer(default=("hang", None)) as fs:
        with pytest.raises(LLMError):
            call(fs, retries=0, timeout_s=0.3)
    time.sleep(0.2)
    assert threading.active_count() <= before + 2


@pytest.mark.parametrize("content", [
    '{"name": "submit_result", "arguments": {"answer": "\\ud800 max"}}',  # a lone surrogate escape
    '{"name": "submit_result", "arguments": {"answer": ' + "[" * 300 + "]" * 300 + "}}",  # past the serialiser
    '{"name": "submit_result", "arguments": {"answer": ' + "[" * 1000 + "]" * 1000 + "}}",  # past json's recursion
    '{"name": "submit_result", "arguments": {"answer": ' + "9" * 400 + "}}",  # no float holds it
    '{"name": "send_message", "arguments": {"target_id": 1, "content": "' + "x" * 200_000 + '"}}',
])
def test_hostile_replies_are_recorded_scored_and_not_rerun(tmp_path, content):
    def script(request):  # the hostile reply once per agent, then an ordinary answer
        mine = sum(m["role"] == "assistant" for m in request["messages"])
        return ("ok", content) if mine == 0 else ("ok", SUBMIT_7)

    with FaultServer(default=script) as fs:
        extra = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": True, "cache_dir": str(tmp_path / "c"),
                 **FAST, "action_mode": "json"}
        rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["p2p"], teams=["llm"], models=["openai/fault"],
                       max_rounds=3, action_budget=2, extra=extra)
        rd = RunDir(tmp_path / "r")
        rd.init(rc)
        out = asyncio.run(run_specs(expand(rc), rd))
        n = len(fs.requests)
    from silo.runner import pending, score_run

    assert out.ran == 1
    scores = score_run(rd)
    assert len(scores) == 1
    assert scores[0].status == "complete" and pending(expand(rc), rd)[1] == 1  # recorded: a resume skips it
    text = episode_io.text(rd.episode_files()[0])
    assert "\ud800" not in text and len(text) < 3_000_000 and n > 0


def test_a_custom_server_never_gets_the_providers_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-this-server")
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        s = LLMSettings(model="openai/fault", api_base=fs.base, cache=False, **FAST)
        asyncio.run(Client(s).complete([{"role": "user", "content": "hi"}]))
        auth = {k.lower(): v for k, v in fs.headers[0].items()}["authorization"]
    assert auth == "Bearer sk-no-key"


def test_the_provider_key_variable_is_stated_in_the_config():
    from silo.validate import run_config

    rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["p2p"], teams=["llm"], models=["openai/gpt-4o-mini"])
    assert run_config(rc).extra["api_key_env"] == "OPENAI_API_KEY"
    custom = rc.model_copy(update={"extra": {"api_base": "http://127.0.0.1:9/v1"}})
    assert "api_key_env" not in run_config(custom).extra


def test_prices_given_as_model_arguments_price_an_unpriced_model_and_bound_the_cost(tmp_path):
    """-M input_cost_per_token=... (model_args) prices a model litellm cannot price, so --max-cost is enforced."""
    chatty = json.dumps({"name": "broadcast_message", "arguments": {"content": "x"}})
    with FaultServer(default=("ok", chatty)) as fs:
        budget = Budget(max_cost=0.5)
        out = _budgeted_run(fs, tmp_path, budget,
                            model_args={"input_cost_per_token": 1e-4, "output_cost_per_token": 2e-4})
    assert budget.used.cost_usd > 0 and out.stopped and "cost" in out.stopped
    want = 1e-4 * budget.used.input_tokens + 2e-4 * budget.used.output_tokens
    assert abs(budget.used.cost_usd - want) <= 1e-9 + 1e-6 * want
