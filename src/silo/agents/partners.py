"""Scripted partners inside LLM teams: the probes that split "cannot share" from "cannot use".

A team `llm` whose model list names a partner or a scripted strategy for some agent ids is a mixed
team: `--models 0=openai/x,*=partner:informative` (`*=` is the default for unpinned ids) or, in a
suite, `models = ["0=openai/x", "*=partner:liar"]`. Each agent's role is recorded in the episode
(EpisodeConfig.models) and in every score row (AgentScore.role: "llm", "partner:<kind>",
"scripted:<team>").

Partner kinds (over p2p or broadcast; payloads are the JSON bodies scripted agents use,
{"from", "to", "kind", "data"}, so a scripted strategy in the "LLM" slot can read them):
informative  round 1: its raw shard ("shard") and its partial ("partial") to every agent, and to each
             agent that depends on it its halo ("halo"); on a chain, when every agent before it is an
             informative partner, the carry into the next position ("carry") once it has their shards.
             Then it answers every text message (a question) with its shard and partial, truthfully.
relay        round 1: its raw shard; then forwards, verbatim, every message it receives from a
             non-partner agent to every other agent. Computes nothing, answers nothing.
silent       never sends.
liar         as informative, but for a plausible wrong shard: the same agent's shard of another
             instance of the task (same N), so every number it sends is well formed and wrong.
Partners never submit: they stay to answer until the end; the episode is complete when every
non-partner agent has submitted (Agent.lingers). Their score rows are no_answer: read the role=llm rows.
"""

from __future__ import annotations

import json
from typing import Any

from silo.agents.channel import Ctx, protocol_capabilities
from silo.agents.scripted import TEAMS, ScriptedAgent, wait
from silo.records import Action, EpisodeConfig, Instance
from silo.tasks import get_task
from silo.tasks.base import TaskSpec

KINDS = ("informative", "relay", "silent", "liar")
PREFIXES = ("partner:", "scripted:")


def slot(model: str) -> tuple[str, str]:
    """('llm', model), ('partner', kind) or ('scripted', team) for one entry of a model list."""
    for p in PREFIXES:
        if model.startswith(p):
            name = model[len(p):]
            known = KINDS if p == "partner:" else [t for t in TEAMS if t != "chatty"]
            if name not in known:
                raise ValueError(f"unknown {p[:-1]} {name!r} in models; known: {', '.join(known)}")
            return p[:-1], name
    return "llm", model


class PartnerAgent(ScriptedAgent):
    """A scripted partner: stays (never submits), so it does not hold the episode open."""

    lingers = True


def team_for(inst: Instance, cfg: EpisodeConfig) -> list:
    """The agents of an `llm` team: LLM agents, with partners or scripted strategies where the models say so."""
    from silo.agents.llm_agent import DEFAULT_MODEL

    models = cfg.models or [DEFAULT_MODEL] * inst.n_agents
    slots = [slot(m) for m in models]
    llm_models = [m for (k, m) in slots if k == "llm"]
    if len(llm_models) == len(slots):
        from silo.agents.llm_agent import llm_team
        return llm_team(inst, cfg)
    if len(models) != inst.n_agents:
        raise ValueError(f"{len(models)} models for {inst.n_agents} agents")
    task = get_task(inst.task)
    caps, topology = protocol_capabilities(cfg.protocol, inst.n_agents)
    ctxs = [Ctx(a, inst.n_agents, cfg.protocol, inst.shards[a].data, inst.params, caps=caps, topology=topology)
            for a in range(inst.n_agents)]
    if any(k == "partner" for k, _ in slots) and (ctxs[0].transport not in ("p2p", "broadcast") or ctxs[0].graph):
        raise ValueError(f"partners talk over p2p or broadcast (fully connected), not {cfg.protocol!r}")
    llm = []
    if llm_models:
        from silo.agents.llm_agent import llm_team
        llm = llm_team(inst, cfg.model_copy(update={"models": [m if k == "llm" else llm_models[0]
                                                               for k, m in slots]}))
    partners = {a for a, (k, _) in enumerate(slots) if k == "partner"}
    kinds = {a: name for a, (k, name) in enumerate(slots) if k == "partner"}
    team = []
    for a, (k, name) in enumerate(slots):
        if k == "llm":
            team.append(llm[a])
        elif k == "scripted":
            team.append(ScriptedAgent(TEAMS[name](task, ctxs[a], inst)))
        else:
            team.append(PartnerAgent(_Partner(name, task, inst, ctxs[a], kinds).program()))
    assert partners == set(kinds)
    return team


def lie(task: TaskSpec, inst: Instance, me: int) -> Any:
    """A plausible wrong shard for agent `me`: its shard in another instance of the task (same N)."""
    for k in range(1, 20):
        other = task.make_instance(inst.n_agents, inst.suite_seed + 7919 * k, inst.replicate).shards[me].data
        if other != inst.shards[me].data:
            return other
    raise ValueError(f"cannot make a wrong shard for agent {me} of {inst.id}")


class _Partner:
    """One partner's behaviour (see the module docstring)."""

    def __init__(self, kind: str, task: TaskSpec, inst: Instance, ctx: Ctx, partners: dict[int, str]):
        self.kind, self.task, self.inst, self.ctx, self.partners = kind, task, inst, ctx, partners
        self.me, self.n = ctx.me, ctx.n
        self.data = lie(task, inst, ctx.me) if kind == "liar" else ctx.data
        self.shards: dict[int, Any] = {}
        self.carried = False

    def program(self):
        if self.kind == "silent":
            while True:
                yield from wait()
        ctx = self.ctx
        yield from ctx.send(None, "shard", self.data)
        if self.kind != "relay":
            yield from ctx.send(None, "partial", self.task.partial(self.data, self.me, ctx.params))
            yield from self._halos()
        yield from wait()
        while True:
            ok, msgs = yield Action(name="receive_messages")
            askers: list[int] = []
            for m in msgs if ok else []:
                body = _payload(m.get("content"))
                if self.kind == "relay":
                    if m["from"] not in self.partners:
                        yield from self._forward(m)
                elif body is None and m["from"] not in self.partners and m["from"] not in askers:
                    askers.append(m["from"])
                elif body is not None and body.get("kind") == "shard" and isinstance(body.get("from"), int):
                    self.shards.setdefault(body["from"], body.get("data"))
            for a in askers:
                yield from self._answer(a)
            yield from self._carry()
            yield from wait()

    def _halos(self):
        task, ctx = self.task, self.ctx
        if task.oracle != "halo":
            return
        for k in range(self.n):
            if k != self.me and self.me in task.depends_on(self.inst, k):
                yield from ctx.send(k, "halo", task.halo_out(self.data, self.me, k, ctx.params))

    def _answer(self, asker: int):
        """A truthful answer to a question: my shard and its partial again (to the asker, or all on broadcast)."""
        to = asker if self.ctx.transport == "p2p" else None
        yield from self.ctx.send(to, "shard", self.data)
        yield from self.ctx.send(to, "partial", self.task.partial(self.data, self.me, self.ctx.params))

    def _forward(self, m: dict):
        content = m["content"]
        if self.ctx.transport == "broadcast":
            yield Action(name="broadcast_message", args={"content": content})
            return
        for t in range(self.n):
            if t not in (self.me, m["from"]):
                yield Action(name="send_message", args={"target_id": t, "content": content})

    def _carry(self):
        """On a chain whose prefix before me is all informative partners: the carry into my successor."""
        task, me = self.task, self.me
        if task.oracle != "chain" or self.carried or me == self.n - 1 or self.kind != "informative":
            return
        if any(self.partners.get(j) != "informative" for j in range(me)) or any(j not in self.shards
                                                                                 for j in range(me)):
            return
        carry = task.chain_init(self.ctx.params)
        for j in range(me + 1):
            _, carry = task.chain_step(carry, self.shards[j] if j < me else self.data, j, self.ctx.params)
        self.carried = True
        yield from self.ctx.send(me + 1, "carry", carry)


def _payload(content: Any) -> dict | None:
    """The JSON body of a scripted agent's message, or None for free text."""
    if not isinstance(content, str):
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "kind" in body else None
