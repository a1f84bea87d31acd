"""The shared prompt is processed once per team on the real embedded model, not once per agent.

A team's agents start together; the first one prefills the shared part of the prompt, and the
server's slots each keep one conversation's cache. Every agent's first call must find that part in
the server's cache (the server's own count of cached prompt tokens), so only its own part is read.
About 10-25 s of CPU on 2 cores.
"""

import asyncio

import pytest

from silo import local_model
from silo.records import RunConfig
from silo.runner import RunDir, expand, run_specs

pytestmark = pytest.mark.slow
MODEL = "local/smollm2-135m"
TEMPLATE_SLACK = 16  # tokens the prefill's chat template closes differently from a full first call


def test_every_agents_first_call_reuses_the_prefilled_shared_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = RunConfig(tasks=["I-01"], n_agents=[2], protocols=["p2p"], teams=["llm"], max_rounds=1,
                   action_budget=1, models=[MODEL], extra={"max_tokens": 32, "cache": False})
    rd = RunDir(tmp_path / "run")
    rd.init(rc)
    try:
        asyncio.run(run_specs(expand(rc), rd))
    finally:
        local_model.close_all()
    (ep,) = rd.episodes()
    calls = [e for e in ep.events if e.kind == "model_call"]
    prefill = [e.data for e in calls if e.data.get("purpose") == "prefill"]
    assert len(prefill) == 1 and prefill[0]["error"] is None
    shared = prefill[0]["input_tokens"]
    firsts = {}
    for e in calls:
        if e.data.get("purpose") == "act":
            firsts.setdefault(e.agent, e.data)
    assert sorted(firsts) == [0, 1]
    for agent, d in firsts.items():
        assert d["error"] is None and d["input_tokens"] > shared
        assert d["cached_tokens"] >= shared - TEMPLATE_SLACK, (agent, d["cached_tokens"], shared)
