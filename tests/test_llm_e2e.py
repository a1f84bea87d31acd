"""End to end with the real embedded model (llama.cpp in process, SmolLM2-135M) through litellm.

Asserts only what must hold whatever the model says. About 30-60 s on 2 cores.
"""

import asyncio
import json

import pytest

from silo import local_model
from silo.agents.llm_agent import replay_messages
from silo.records import OUTCOMES, RunConfig
from silo.runner import RunDir, expand, run_specs, score_run

pytestmark = pytest.mark.slow
MODEL = "local/smollm2-135m"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["p2p", "sfs"], teams=["llm"], max_rounds=3,
                   action_budget=2, models=[MODEL], extra={"max_tokens": 96, "cache": False})
    rd = RunDir(tmp_path_factory.mktemp("e2e") / "run")
    rd.init(rc)
    before = local_model.server_for(MODEL).starts
    asyncio.run(run_specs(expand(rc), rd))
    yield before, list(rd.episodes()), score_run(rd)
    local_model.close_all()
    mp.undo()


def test_every_episode_ran_and_every_agent_has_an_outcome(run):
    _, episodes, scores = run
    assert len(episodes) == 2 and {ep.config.protocol for ep in episodes} == {"p2p", "sfs"}
    for ep in episodes:
        assert ep.status in ("complete", "max_rounds"), ep.error
    for s in scores:
        assert [a.agent for a in s.agents] == [0, 1]
        assert all(a.outcome in OUTCOMES for a in s.agents)


def test_tokens_are_counted_from_model_call_events(run):
    _, episodes, _ = run
    for ep in episodes:
        calls = [e for e in ep.events if e.kind == "model_call"]
        assert calls and ep.usage.calls == len(calls)
        assert ep.usage.input_tokens == sum(e.data["input_tokens"] for e in calls) > 0
        assert ep.usage.output_tokens == sum(e.data["output_tokens"] for e in calls) > 0
        for e in calls:
            d = e.data
            assert d["model"] == MODEL and d["error"] is None and d["cached"] is False
            assert d["latency_s"] > 0 and d["attempt"] == 1 and d["sampling"]["max_tokens"] in (1, 96)


def test_model_calls_are_bounded_and_actions_are_schema_valid(run):
    _, episodes, _ = run
    for ep in episodes:
        for a in range(2):
            acts = [e for e in ep.events if e.kind == "model_call" and e.agent == a and e.data["purpose"] == "act"]
            for r in range(1, ep.rounds + 1):
                assert sum(e.round == r for e in acts) <= ep.config.action_budget
            for e in acts:  # the embedded model is constrained to one action object (unless cut off)
                text = e.data["response"]["content"]
                if e.data["finish_reason"] == "stop":
                    assert set(json.loads(text)) == {"name", "arguments"}
                else:
                    assert e.data["finish_reason"] == "length" and text.startswith('{"name": "')


def test_prompts_sent_are_logged_and_replayable(run):
    _, episodes, _ = run
    for ep in episodes:
        for a in range(2):
            sent = replay_messages(ep.events, a)
            acts = [e for e in ep.events if e.kind == "model_call" and e.agent == a]
            assert len(sent) == len(acts)
            real = [m for m, e in zip(sent, acts, strict=True) if e.data["purpose"] == "act"]
            assert real[0][0]["role"] == "system" and ep.instance.shards[a].text in real[0][0]["content"]
            assert real[-1][:len(real[0])] == real[0]  # append-only history
        first = next(e for e in ep.events if e.kind == "model_call" and e.data["purpose"] == "act")
        assert first.data["response_format"]["type"] == "json_schema"


def test_invalid_actions_are_error_events(run):
    _, episodes, _ = run
    for ep in episodes:
        for e in ep.events:
            if e.kind == "error":
                assert isinstance(e.result, str) and e.result


def test_one_shared_server_is_started_once_and_closes(run):
    before = run[0]
    srv = local_model.server_for(MODEL)
    assert srv.running and srv.starts == before + 1  # both episodes, all agents: one server
    base = srv.start()
    assert srv.starts == before + 1
    local_model.close_all()
    assert not srv.running
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base.removesuffix("/v1") + "/health", timeout=3)
