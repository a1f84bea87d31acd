"""Prompts (role-agnostic, variants), team construction, schemas and the agent's guards, without a model."""

import asyncio
import json

import pytest

from fault_server import FaultServer
from silo import prompts
from silo.agents.llm_agent import default_mode, llm_team
from silo.episode import SUBMIT, WAIT, run_episode
from silo.llm import LLMSettings
from silo.prompts import History
from silo.protocols import protocol_class
from silo.records import EpisodeConfig
from silo.tasks import get_task


def cfg(**kw):
    base = dict(task="I-01", n_agents=3, protocol="p2p", team="llm", models=["openai/x"] * 3, max_rounds=7,
                action_budget=5, extra={"cache": False})
    return EpisodeConfig(**{**base, **kw})


def specs(protocol="p2p", n=3):
    return [*protocol_class(protocol)(n).specs(), WAIT, SUBMIT]


@pytest.mark.parametrize("protocol", ["p2p", "broadcast", "sfs"])
def test_prompt_is_identical_for_every_agent_but_id_and_data(protocol):
    c = cfg(protocol=protocol)
    inst = get_task("I-01").make_instance(3, 0, 0)
    texts = []
    for a in range(3):
        t = prompts.system_prompt(inst, c, a, specs(protocol), "json_schema")
        assert inst.shards[a].text in t and f"You are agent {a}." in t
        texts.append(t.replace(inst.shards[a].text, "<DATA>").replace(f"You are agent {a}.", "You are agent <ID>."))
    assert texts[0] == texts[1] == texts[2]
    assert "No single agent has enough information alone" in texts[0]
    for word in ("leader", "coordinator", "manager", "worker"):  # no roles
        assert word not in texts[0].lower()


def test_prompt_states_task_actions_and_rules():
    inst = get_task("I-01").make_instance(3, 0, 0)
    t = prompts.system_prompt(inst, cfg(), 1, specs(), "json_schema")
    assert inst.description in t and inst.answer_format in t
    assert "send_message(target_id: integer, content: string)" in t
    assert "up to 5 actions" in t and "at most 7" in t
    assert '{"name": "<action>", "arguments": {...}}' in t
    tools_text = prompts.system_prompt(inst, cfg(), 1, specs(), "tools")
    assert "calling the tools" in tools_text and '"arguments"' not in tools_text


def test_single_agent_prompt_does_not_claim_missing_information():
    inst = get_task("I-01").make_instance(1, 0, 0)
    t = prompts.system_prompt(inst, cfg(n_agents=1, protocol="none"), 0, [WAIT, SUBMIT], "json")
    assert "No single agent" not in t and "alone" in t


def test_variants():
    inst = get_task("I-01").make_instance(3, 0, 0)
    s = specs()
    plan1 = prompts.round_message(cfg(prompt_variant="plan"), 1, s, 3)
    plan2 = prompts.round_message(cfg(prompt_variant="plan"), 2, s, 3)
    assert "planning round" in plan1 and "planning round" not in plan2
    for r in (1, 4):
        assert "send_message(target_id" in prompts.round_message(cfg(prompt_variant="reminder"), r, s, 3)
        assert "send_message(target_id" not in prompts.round_message(cfg(), r, s, 3)
    scratch = prompts.system_prompt(inst, cfg(prompt_variant="scratchpad"), 0, s, "json_schema")
    assert '"thought"' in scratch
    hinted = prompts.system_prompt(inst, cfg(prompt_variant="hints"), 0, s, "json", hint="Use a star.")
    assert "\nHINT\nUse a star.\n" in hinted
    assert "Use a star." not in prompts.system_prompt(inst, cfg(), 0, s, "json", hint="Use a star.")
    with pytest.raises(ValueError, match="unknown prompt variant"):
        prompts.check_variant("cheat")


def test_hints_variant_sends_the_task_hint(monkeypatch):
    """The agent reads the task's `hint` attribute and sends it only under the hints variant."""
    task = get_task("I-01")
    monkeypatch.setattr(type(task), "hint", "Reduce to agent 0 (star).", raising=False)
    sent = {}
    for variant in ("hints", "neutral"):
        with FaultServer(default=("ok", '{"name": "submit_result", "arguments": {"answer": 1}}')) as fs:
            c = cfg(n_agents=2, models=["openai/fault"] * 2, prompt_variant=variant,
                    extra={"api_base": fs.base, "cache": False, "action_mode": "json"})
            inst = task.make_instance(2, 0, 0)
            asyncio.run(run_episode(inst, c, llm_team(inst, c)))
            sent[variant] = fs.requests[0]["messages"][0]["content"]
    assert "HINT\nReduce to agent 0 (star)." in sent["hints"]
    assert "Reduce to agent 0" not in sent["neutral"]


def test_action_schema_accepts_exactly_the_protocol_actions():
    schema = prompts.action_schema(specs("sfs", 2), scratchpad=True)
    names = [o["properties"]["name"]["const"] for o in schema["anyOf"]]
    assert names == ["list_files", "read_file", "write_file", "delete_file", "wait", "submit_result"]
    write = schema["anyOf"][2]
    assert write["required"] == ["thought", "name", "arguments"]
    assert write["properties"]["arguments"]["properties"]["content"]["maxLength"] == 400
    answer = schema["anyOf"][5]["properties"]["arguments"]["properties"]["answer"]
    assert "anyOf" in answer  # bounded JSON value, not an arbitrarily nested one
    json.dumps(schema)


def test_team_uses_each_agents_model_and_validates():
    c = cfg(models=["openai/a", "openai/b", "openai/a"])
    inst = get_task("I-01").make_instance(3, 0, 0)
    team = llm_team(inst, c)
    assert [a.model for a in team] == ["openai/a", "openai/b", "openai/a"]
    assert [a.me for a in team] == [0, 1, 2]
    with pytest.raises(ValueError, match="2 models for 3 agents"):
        llm_team(inst, cfg(models=["openai/a", "openai/b"]))
    with pytest.raises(ValueError, match="action_mode"):
        llm_team(inst, cfg(extra={"action_mode": "telepathy"}))


def test_default_modes_and_settings():
    assert default_mode("local/smollm2-135m") == "json_schema"
    assert default_mode("gpt-4o-mini") == "tools"
    assert default_mode("openai/some-unknown-server-model") == "json"
    s = LLMSettings.from_extra("openai/x", {"api_base": "http://h/v1", "temperature": 0.2, "max_tokens": 99,
                                            "cache": False, "protocol_option": 1})
    assert (s.api_base, s.temperature, s.max_tokens, s.cache) == ("http://h/v1", 0.2, 99, False)
    assert s.sampling(3) == {"max_tokens": 99, "temperature": 0.2}
    local = LLMSettings.from_extra("local/smollm2-135m", {"api_base": "http://elsewhere"})
    assert local.api_base is None and local.sampling(2)["seed"] == 1002  # replicate-specific sampling seed


def test_truncated_submission_is_refused_not_completed():
    with FaultServer(default=("ok", '{"name": "submit_result", "arguments": {"answer": 5}}')) as fs:
        fs.queue(("ok", '{"name": "submit_result", "arguments": {"answer": [1, 2'))
        c = cfg(n_agents=2, models=["openai/fault"] * 2,
                extra={"api_base": fs.base, "cache": False, "action_mode": "json", "retries": 0})
        inst = get_task("I-01").make_instance(2, 0, 0)
        ep = asyncio.run(run_episode(inst, c, llm_team(inst, c)))
    errors = [e for e in ep.events if e.kind == "error"]
    assert len(errors) == 1 and "cut off or incomplete" in errors[0].result
    assert [s.answer for s in ep.submissions] == [5, 5]  # the agent said it in full on its next call


def _tool_pairs_ok(msgs):
    """Every tool message answers a call of the closest preceding assistant message."""
    ids: set = set()
    for m in msgs:
        if m["role"] == "assistant":
            ids = {c["id"] for c in m.get("tool_calls") or []}
        elif m["role"] == "tool" and m["tool_call_id"] not in ids:
            return False
    return True


def test_history_elides_long_results_first():
    h = History(window=2000, max_tokens=100)
    h.add("system", "task " * 20)
    for k in range(6):
        h.note(f"Round {k}")
        h.add("assistant", '{"name": "receive_messages", "arguments": {}}')
        h.note("receive_messages -> " + "7" * 800, elidable=True)
    h.send()
    assert h.estimate() > 0.9 * h.limit
    report = h.fit()
    sent = h.send()
    assert report["elided"] >= 1 and report["dropped"] == 0
    assert report["est_tokens_after"] <= 0.6 * h.limit < report["est_tokens_before"]
    assert sent[0]["content"] == "task " * 20  # never touched
    assert "[elided to fit the context window: 820 characters of an old action result]" in sent[3]["content"]
    assert "Round 1" in sent[3]["content"]  # the round header shares the message but is kept
    assert "7" * 800 in sent[-1]["content"]  # the newest result is kept


def test_history_drops_oldest_exchanges_when_eliding_is_not_enough():
    h = History(window=1000, max_tokens=100)
    h.add("system", "task")
    for k in range(60):
        h.add("assistant", None, tool_calls=[{"id": f"c{k}", "type": "function",
                                              "function": {"name": "wait", "arguments": "{}"}}])
        h.tool(f"c{k}", f"wait -> ok {k}")
    before = h.send()
    report = h.fit()
    after = h.send()
    assert report["dropped"] > 0 and report["est_tokens_after"] <= 0.6 * h.limit
    assert after[0] == before[0] and after[-2:] == before[-2:]
    marker = f"[earlier conversation removed to fit the context window: {report['dropped']} messages]"
    assert after[1]["content"] == marker
    assert len(after) == len(before) - report["dropped"] + 1
    assert _tool_pairs_ok(after)
    again = h.fit(force=True)  # forced (after a context error): shrinks further, marker counts up
    final = h.send()
    assert again["dropped"] > 0 and _tool_pairs_ok(final)
    assert final[1]["content"].endswith(f"{report['dropped'] + again['dropped']} messages]")


def test_history_below_the_threshold_is_untouched():
    h = History(window=100000, max_tokens=100)
    h.add("system", "task")
    h.note("Round 1")
    msgs = h.send()
    assert h.fit() is None and h.send() == msgs
