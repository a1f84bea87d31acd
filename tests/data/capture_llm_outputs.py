"""Capture real replies of the embedded model for the action-parser corpus (tests/data/llm_outputs.jsonl).

Run: .venv/bin/python tests/data/capture_llm_outputs.py [samples per context]
Each context is an agent's real prompt (system + round message, some with a conversation so far),
sent without constraint ("json" mode: free text) and with the action schema ("json_schema" mode).
The expected parse of each reply is labelled by hand afterwards (the "expect" field); re-capturing
drops the labels, so do it only to extend the corpus.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from silo import prompts
from silo.episode import SUBMIT, WAIT
from silo.llm import Client, LLMSettings
from silo.protocols import protocol_class
from silo.records import EpisodeConfig
from silo.tasks import get_task

OUT = Path(__file__).parent / "llm_outputs.jsonl"
CONTEXTS = [  # (task, n, protocol, agent, variant, conversation after the first round message)
    ("I-01", 2, "p2p", 0, "neutral", []),
    ("I-01", 3, "broadcast", 1, "neutral", []),
    ("I-01", 2, "sfs", 1, "scratchpad", []),
    ("I-01", 2, "p2p", 1, "plan", [
        ('{"name": "receive_messages", "arguments": {}}',
         'receive_messages -> [{"from": 0, "round": 1, "content": "my max is 912"}]')]),
    ("I-01", 3, "p2p", 2, "neutral", [
        ('{"name": "send_message", "arguments": {"target_id": 0, "content": "my max is 840"}}',
         'send_message -> {"ok": true, "message_id": 0}')]),
    ("I-01", 2, "sfs", 0, "neutral", [
        ('{"name": "list_files", "arguments": {"prefix": ""}}', 'list_files -> ["max/1.txt"]')]),
    ("I-01", 2, "broadcast", 0, "reminder", [
        ("I will broadcast my max.",
         'ERROR: no JSON action in the reply; reply with one JSON object such as {"name": "wait", "arguments": {}}')]),
]


def messages(task_id, n, protocol, agent, variant, convo, mode):
    task = get_task(task_id)
    inst = task.make_instance(n, 0, 0)
    cfg = EpisodeConfig(task=task_id, n_agents=n, protocol=protocol, team="llm", prompt_variant=variant,
                        max_rounds=8, action_budget=4)
    specs = [*protocol_class(protocol)(n).specs(), WAIT, SUBMIT]
    msgs = [{"role": "system", "content": prompts.system_prompt(inst, cfg, agent, specs, mode)},
            {"role": "user", "content": prompts.round_message(cfg, 1, specs, n)}]
    for reply, result in convo:
        msgs += [{"role": "assistant", "content": reply}, {"role": "user", "content": result}]
    return msgs, specs


async def capture(samples: int) -> list[dict]:
    rows = []
    for ctx_i, (task_id, n, protocol, agent, variant, convo) in enumerate(CONTEXTS):
        for mode in ("json", "json_schema"):
            msgs, specs = messages(task_id, n, protocol, agent, variant, convo, mode)
            fmt = None
            if mode == "json_schema":
                schema = prompts.action_schema(specs, variant == "scratchpad")
                fmt = {"type": "json_schema", "json_schema": {"name": "action", "schema": schema, "strict": True}}
            for rep in range(samples):  # the replicate index sets the sampling seed
                client = Client(LLMSettings(model="local/smollm2-135m", max_tokens=160, cache=False), rep)
                reply = await client.complete(msgs, None, fmt)
                rows.append({"id": f"c{ctx_i}-{mode}-{rep}", "mode": mode, "protocol": protocol,
                             "text": reply.content, "finish_reason": reply.finish_reason, "expect": None})
                print(rows[-1]["id"], repr(reply.content)[:120], flush=True)
    return rows


if __name__ == "__main__":
    rows = asyncio.run(capture(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} replies to {OUT}")
