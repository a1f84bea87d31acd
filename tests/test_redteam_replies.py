"""Red team, replies: what a hostile or broken endpoint sends, against the local fault server (127.0.0.1, bounded).

Each test fails where the harness would lose money, hide an error or stop a sweep for one reply: usage that is
missing, negative or not a number must still be charged to the run budget and never make a cost negative; a
200 body of the wrong shape is retried like any unreadable body; a rejected key or an exhausted quota stops
the run at once instead of erroring every episode one by one; absurd actions are recorded and scored."""

import asyncio
import json
import math

import pytest

from fault_server import FaultServer, completion
from silo.llm import Client, LLMError, LLMSettings, release_budget, use_budget
from silo.records import RunConfig
from silo.runner import Budget, RunDir, expand, pending, run_specs, score_run

SUBMIT_7 = '{"name": "submit_result", "arguments": {"answer": 7}}'
FAST = {"retries": 2, "backoff_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 5, "breaker_failures": 100,
        "outage_max_s": 5}
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


@pytest.fixture(autouse=True)
def fault_key(monkeypatch):
    monkeypatch.setenv("SILO_FAULT_KEY", "sk-fault-secret-123")


def settings(fs, **kw):
    return LLMSettings(**{"model": "openai/fault", "api_base": fs.base, "api_key_env": "SILO_FAULT_KEY",
                          "cache": False, **FAST, **kw})


def call(fs, budget=None, messages=None, **kw):
    attempts = []

    async def go():
        token = use_budget(budget) if budget is not None else None
        try:
            return await Client(settings(fs, **kw)).complete(messages or [{"role": "user", "content": "hi " * 40}],
                                                             on_attempt=attempts.append)
        finally:
            if token is not None:
                release_budget(token)

    return asyncio.run(go()), attempts


@pytest.mark.parametrize("usage", [
    None,  # no usage field at all
    {},
    {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
    {"prompt_tokens": -100_000, "completion_tokens": -5_000, "total_tokens": -105_000},
    {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    # litellm itself refuses these bodies ("Invalid response object"): retried like any unreadable body
    {"prompt_tokens": "lots", "completion_tokens": "some", "total_tokens": "x"},
    {"prompt_tokens": float("nan"), "completion_tokens": float("inf"), "total_tokens": float("nan")},
], ids=["none", "empty", "nulls", "negative", "zero", "strings", "nan-inf"])
def test_usage_missing_negative_or_not_a_number_is_still_charged_and_never_negative(usage):
    budget = Budget(max_tokens=10**9)
    with FaultServer(default=("ok", SUBMIT_7)) as fs:
        fs.queue(("usage", (SUBMIT_7, usage)))
        reply, attempts = call(fs, budget, **PRICES)
    unreadable = isinstance((usage or {}).get("prompt_tokens"), (str, float))
    assert reply.content == SUBMIT_7 and [a["error"] is None for a in attempts] == [False] * unreadable + [True]
    assert reply.input_tokens > 0 and reply.output_tokens > 0  # estimated from the text when not reported
    assert reply.cost_usd is not None and math.isfinite(reply.cost_usd) and reply.cost_usd > 0
    used = budget.used
    assert used.input_tokens > 0 and used.output_tokens > 0 and math.isfinite(used.cost_usd) and used.cost_usd > 0


def test_a_litellm_priced_model_with_negative_usage_never_gets_a_negative_cost():
    """litellm prices gpt-4o-mini itself: negative token counts must not turn into a refund."""
    budget = Budget(max_cost=1.0)
    body = completion("ok", SUBMIT_7)
    body["model"] = "gpt-4o-mini"
    with FaultServer() as fs:
        fs.queue(("raw", (200, {**body, "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}},
                          None)))
        reply, _ = call(fs, budget, model="openai/gpt-4o-mini")
        assert reply.cost_usd is not None and reply.cost_usd > 0  # litellm does price this reply
        fs.queue(("raw", (200, {**body, "usage": {"prompt_tokens": -10**9, "completion_tokens": -10**9,
                                                  "total_tokens": -2 * 10**9}}, None)))
        reply, _ = call(fs, budget, model="openai/gpt-4o-mini")
    assert reply.cost_usd is not None and reply.cost_usd > 0
    assert budget.used.cost_usd >= 0 and budget.used.input_tokens >= 0 and budget.used.output_tokens >= 0


def test_budget_charges_of_nan_or_negative_cost_cannot_disable_the_ceiling():
    b = Budget(max_tokens=100, max_cost=0.01)
    b.charge(-10**6, -10**6, float("nan"))
    b.charge(0, 0, -5.0)
    assert b.used.input_tokens >= 0 and b.used.output_tokens >= 0 and b.used.cost_usd >= 0
    b.charge(60, 50, 0.02)
    assert b.exceeded()  # a NaN in the running total would make every later comparison False


WRONG_SHAPES = [
    ("raw", (200, {"error": {"message": "Provider returned error", "code": 502}}, None)),  # OpenRouter
    ("raw", (200, {"choices": "none today"}, None)),
    ("raw", (200, {"object": "chat.completion"}, None)),
    ("raw", (200, [], None)),
    ("raw", (200, "null", None)),
    ("raw", (200, {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [{"id": "x"}]}}]}, None)),
    ("sse", SUBMIT_7),
    ("cut", SUBMIT_7),
]


@pytest.mark.parametrize("bad", WRONG_SHAPES, ids=lambda b: b[0] + ":" + json.dumps(b[1], default=str)[:40])
def test_a_200_body_of_the_wrong_shape_is_retried_then_succeeds(bad):
    with FaultServer() as fs:
        fs.queue(bad, ("ok", SUBMIT_7))
        reply, attempts = call(fs)
    assert reply.content == SUBMIT_7
    assert len(attempts) == 2 and attempts[0]["error"] and attempts[0]["transient"], attempts[0]


@pytest.mark.parametrize("bad", WRONG_SHAPES[:3], ids=["error-body", "choices-str", "no-choices"])
def test_a_wrong_shaped_body_every_time_is_a_clear_error_after_the_retries(bad):
    with FaultServer(default=bad) as fs:
        with pytest.raises(LLMError, match="after 3 attempt"):
            call(fs)
        assert len(fs.requests) == 3


QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                   "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}


@pytest.mark.parametrize("fatal", [("status", 401), ("status", 403), ("raw", (429, QUOTA, None)),
                                   ("raw", (402, {"error": {"message": "Insufficient credits"}}, None))],
                         ids=["401", "403", "quota-429", "402"])
def test_a_rejected_key_or_an_exhausted_quota_is_not_retried(fatal):
    with FaultServer(default=fatal) as fs:
        with pytest.raises(LLMError) as err:
            call(fs, retries=5, breaker_failures=2, breaker_pause_s=5)
        assert len(fs.requests) == 1  # neither retried nor paused for by the breaker
    assert err.value.fatal


def _sweep(fs, tmp_path, replicates=6, **extra):
    opts = {"api_base": fs.base, "api_key_env": "SILO_FAULT_KEY", "cache": False, **FAST, "action_mode": "json",
            **extra}
    rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["p2p"], teams=["llm"], models=["openai/fault"],
                   replicates=replicates, max_rounds=3, action_budget=2, extra=opts)
    rd = RunDir(tmp_path / "r")
    rd.init(rc)
    return rc, rd


@pytest.mark.parametrize("fatal", [("status", 401), ("raw", (429, QUOTA, None))], ids=["401", "quota"])
def test_a_key_revoked_mid_run_stops_the_run_instead_of_erroring_every_episode(tmp_path, fatal):
    served = []

    def script(request):  # two episodes' worth of good replies, then the key is revoked
        served.append(1)
        return ("ok", SUBMIT_7) if len(served) <= 4 else fatal

    with FaultServer(default=script) as fs:
        rc, rd = _sweep(fs, tmp_path, replicates=8)
        out = asyncio.run(run_specs(expand(rc), rd, concurrency=1))
        hits = len(fs.requests)
    assert out.stopped and ("API key" in out.stopped or "quota" in out.stopped), out.stopped
    assert hits <= 4 + 2  # the episode that met it: at most one failing call per agent, no retries
    statuses = rd.statuses()
    assert sorted(statuses.values()).count("complete") == 2 and "error" in statuses.values()
    todo, done = pending(expand(rc), rd)
    assert done == 2 and len(todo) == 6  # the rest is resumable, nothing scored as a wrong answer
    errored = [s for s in score_run(rd) if s.status == "error"]
    assert len(errored) == 1 and errored[0].success is None  # an error, never a wrong answer


HOSTILE_ACTIONS = [
    '{"name": "submit_result", "arguments": {"answer": NaN}}',
    '{"name": "submit_result", "arguments": {"answer": -Infinity}}',
    '{"name": "submit_result", "arguments": {"answer": [' + ",".join(["1"] * 1_000_000) + "]}}",
    '{"name": "submit_result", "arguments": {"answer": "\\u0000\\u001b[2J\\u202e\\u0007 7"}}',
    '{"name": "send_message", "arguments": {"target_id": "everyone", "content": {"nested": [1, 2]}}}',
    '{"name": "send_message", "arguments": {"target_id": 1e308, "content": null}}',
    '{"name": 5, "arguments": "submit 7"}',
    '[{"name": "submit_result"}, 7]',
    '"submit_result"',
    '{"name": "submit_result", "arguments": {"answer": ' + "[" * 10_000 + "]" * 10_000 + "}}",
]


@pytest.mark.parametrize("content", HOSTILE_ACTIONS, ids=lambda c: c[:40])
def test_absurd_actions_are_recorded_scored_and_never_sink_the_episode(tmp_path, content):
    def script(request):  # the hostile reply once per agent, then an ordinary answer
        mine = sum(m["role"] == "assistant" for m in request["messages"])
        return ("ok", content) if mine == 0 else ("ok", SUBMIT_7)

    with FaultServer(default=script) as fs:
        rc, rd = _sweep(fs, tmp_path, replicates=1, no_action_retries=0)
        out = asyncio.run(run_specs(expand(rc), rd))
    assert out.ran == 1 and out.errors == 0
    (score,) = score_run(rd)
    assert score.status == "complete"


def test_finish_reason_length_on_every_reply_is_bounded_and_never_submits_a_cut_answer(tmp_path):
    def cut(request):
        body = completion("ok", '{"name": "submit_result", "arguments": {"answer": 7}}')
        body["choices"][0]["finish_reason"] = "length"
        return ("raw", (200, body, None))

    with FaultServer(default=cut) as fs:
        rc, rd = _sweep(fs, tmp_path, replicates=1)
        out = asyncio.run(run_specs(expand(rc), rd))
        hits = len(fs.requests)
    assert out.errors == 0
    (ep,) = rd.episodes()
    assert ep.status == "max_rounds" and not ep.submissions
    assert hits <= 2 * 3 * 2 * 3  # agents x rounds x action budget x (1 + no_action_retries)


def test_a_dns_failure_is_retried_as_transient_and_named_by_the_preflight(tmp_path):
    from click.testing import CliRunner

    from silo.cli import main

    nowhere = "http://silo-no-such-host.invalid/v1"
    attempts = []
    s = LLMSettings(model="openai/fault", api_base=nowhere, cache=False, **{**FAST, "retries": 1})
    with pytest.raises(LLMError, match="after 2 attempt"):
        asyncio.run(Client(s).complete([{"role": "user", "content": "hi"}], on_attempt=attempts.append))
    assert [a["transient"] for a in attempts] == [True, True]  # a DNS blip mid-run is retried
    res = CliRunner().invoke(main, ["run", "--team", "llm", "--model", "openai/fault", "--api-base", nowhere,
                                    "--task", "I-01", "--n", "2", "--protocol", "p2p", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "cannot reach" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_10_mb_tool_call_argument_is_bounded_and_the_episode_goes_on(tmp_path):
    huge = json.dumps({"target_id": 1, "content": "x" * 10_000_000})

    def script(request):
        mine = sum(m["role"] == "assistant" for m in request["messages"])
        return ("tool", [("send_message", huge)]) if mine == 0 else ("tool", [("submit_result", '{"answer": 7}')])

    with FaultServer(default=script) as fs:
        rc, rd = _sweep(fs, tmp_path, replicates=1, action_mode="tools")
        out = asyncio.run(run_specs(expand(rc), rd))
        biggest = max(len(json.dumps(r["messages"])) for r in fs.requests)
    assert out.errors == 0
    (ep,) = rd.episodes()
    assert ep.status == "complete" and [s.answer for s in ep.submissions] == [7, 7]
    assert biggest < 400_000  # the 10 MB argument is never sent back to the model whole
    assert sum(f.stat().st_size for f in rd.episode_files()) < 1_000_000
