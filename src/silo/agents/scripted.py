"""Scripted reference teams: baselines with known behaviour, used to validate the scorer.

oracle     the task's optimal topology (star reduce, chain, halo exchange); on a constrained graph
           (p2p:<topology>) every agent floods its partial and combines all of them itself, which
           finishes in about diameter rounds (a chain or a gather-scatter through one root cannot
           finish within R_max on a ring of 100)
gossip     share raw shards with everyone, then compute
premature  submit from its own shard only
smalltalk  greet everyone and wait for every greeting (reach complete, nothing said), then submit from its
           own shard only: relay_loss (or lucky), the "hello round" that must not count as information
miscompute gather everything, then submit a deterministically wrong integration
silent     never submit
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import Any

from silo import plugins
from silo.agents.channel import Ctx, protocol_capabilities
from silo.episode import Turn
from silo.records import Action, Instance
from silo.tasks import get_task
from silo.tasks.base import TaskSpec, wrong_answer

Program = Generator[Action, Any, None]


class ScriptedAgent:
    """Drives a generator program through turns; an action over budget waits for the next round."""

    def __init__(self, program: Program):
        self.gen = program
        self.pending: Action | None = next(program, None)

    async def take_turn(self, turn: Turn) -> None:
        while not turn.done:
            if self.pending is None:  # program finished without submitting
                turn.do(Action(name="wait"))
                return
            action = self.pending
            ok, result = turn.do(action)
            self.pending = _advance(self.gen, (ok, result))
            if action.name in ("wait", "submit_result"):
                return


def _advance(gen: Program, value: Any) -> Action | None:
    try:
        return gen.send(value)
    except StopIteration:
        return None


def wait() -> Program:
    yield Action(name="wait")


def oracle(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    """The task's optimal strategy."""
    if ctx.n == 1:
        yield from ctx.submit(task.solve([ctx.data], ctx.params)[0])
    elif ctx.graph is not None:
        yield from _flood(task, ctx)
    elif task.oracle == "chain":
        yield from _chain(task, ctx)
    elif task.oracle == "halo":
        yield from _halo(task, ctx, inst)
    else:
        yield from _star(task, ctx)


def _flood(task: TaskSpec, ctx: Ctx) -> Program:
    """Every agent floods its partial over the graph and combines all partials itself."""
    mine = task.partial(ctx.data, ctx.me, ctx.params)
    yield from ctx.send(None, "partial", mine)
    got = yield from ctx.collect("partial", set(range(ctx.n)) - {ctx.me})
    got[ctx.me] = mine
    yield from ctx.submit(task.combine([got[a] for a in range(ctx.n)], ctx.params)[ctx.me])


def _star(task: TaskSpec, ctx: Ctx) -> Program:
    """Star reduce: partials to agent 0, which combines and sends every agent its answer."""
    segmented = task.answer_kind != "global"
    ctx.plan([(a, 0) for a in range(1, ctx.n)] + ([(0, a) for a in range(1, ctx.n)] if segmented else []))
    if ctx.me != 0:
        yield from ctx.send(0, "partial", task.partial(ctx.data, ctx.me, ctx.params))
        yield from wait()
        got = yield from ctx.collect("answer", {0})
        yield from ctx.submit(got[0])
        return
    parts = yield from ctx.collect("partial", set(range(1, ctx.n)))
    parts[0] = task.partial(ctx.data, 0, ctx.params)
    answers = task.combine([parts[a] for a in range(ctx.n)], ctx.params)
    if not segmented:
        yield from ctx.send(None, "answer", answers[0])
    else:
        yield from ctx.send_many([(a, "answer", answers[a]) for a in range(1, ctx.n)])
    yield from ctx.submit(answers[0])


def _chain(task: TaskSpec, ctx: Ctx) -> Program:
    """Chain: agent k receives a carry from k-1, answers, and passes its carry to k+1."""
    carry = task.chain_init(ctx.params)
    ctx.plan([(k, k + 1) for k in range(ctx.n - 1)])
    if ctx.me > 0:
        got = yield from ctx.collect("carry", {ctx.me - 1})
        carry = got[ctx.me - 1]
    answer, out = task.chain_step(carry, ctx.data, ctx.me, ctx.params)
    if ctx.me < ctx.n - 1:
        yield from ctx.send(ctx.me + 1, "carry", out)
    yield from ctx.submit(answer)


def _halo(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    """Halo exchange: send each dependent agent what it needs from me, answer from what I get."""
    ctx.plan([(j, k) for k in range(ctx.n) for j in task.depends_on(inst, k) if j != k])
    for k in range(ctx.n):
        if k != ctx.me and ctx.me in task.depends_on(inst, k):
            yield from ctx.send(k, "halo", task.halo_out(ctx.data, ctx.me, k, ctx.params))
    need = set(task.depends_on(inst, ctx.me)) - {ctx.me}
    got = {}
    if need:
        got = yield from ctx.collect("halo", need)
    yield from ctx.submit(task.halo_answer(ctx.data, ctx.me, got, ctx.params))


def _gather_all(ctx: Ctx) -> Program:
    """Everyone shares its raw shard with everyone; returns all shards in agent order."""
    if ctx.n == 1:
        return [ctx.data]
    yield from ctx.send(None, "shard", ctx.data)
    got = yield from ctx.collect("shard", set(range(ctx.n)) - {ctx.me})
    got[ctx.me] = ctx.data
    return [got[a] for a in range(ctx.n)]


def gossip(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    shards = yield from _gather_all(ctx)
    yield from ctx.submit(task.solve(shards, ctx.params)[ctx.me])


def miscompute(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    shards = yield from _gather_all(ctx)
    yield from ctx.submit(wrong_answer(task.solve(shards, ctx.params)[ctx.me]))


def premature(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    """Submit what the agent's own shard alone suggests, in round 1."""
    try:
        ans = task.solve([ctx.data], ctx.params)[0]
    except Exception:  # some tasks cannot be solved on one shard; any guess will do
        ans = 0
    yield from ctx.submit(ans)


def smalltalk(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    """Greet everyone, wait for everyone's greeting, then submit what the own shard alone suggests."""
    if ctx.n > 1:
        yield from ctx.send(None, "hello", "hello")
        yield from ctx.collect("hello", set(range(ctx.n)) - {ctx.me})
    yield from premature(task, ctx, inst)


def silent(task: TaskSpec, ctx: Ctx, inst: Instance) -> Program:
    while True:
        yield from wait()


TEAMS: dict[str, Callable[[TaskSpec, Ctx, Instance], Program]] = {
    "oracle": oracle, "gossip": gossip, "premature": premature, "miscompute": miscompute, "silent": silent,
    "smalltalk": smalltalk,
    "chatty": silent,  # placeholder: scripted_team builds it with silo.agents.chatty (one shared ledger)
}


_TEAM_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def register_team(name: str, program: Callable[[TaskSpec, Ctx, Instance], Program]) -> Callable:
    """Add a scripted team: `program(task, ctx, instance)` is one agent's generator of actions (see oracle)."""
    if not isinstance(name, str) or not _TEAM_NAME.fullmatch(name) or name == "llm":
        raise ValueError(f"team name {name!r} must be lowercase letters, digits, '_' and '-' (and not 'llm')")
    if name in TEAMS and TEAMS[name] is not program:
        raise ValueError(f"team {name!r} is already registered")
    if not callable(program):
        raise ValueError(f"team {name!r}: expected a program function (task, ctx, instance), got {program!r}")
    TEAMS[name] = program
    return program


def scripted_team(team: str, inst: Instance, protocol: str) -> list[ScriptedAgent]:
    """One scripted agent per shard of the instance."""
    if team not in TEAMS:
        raise KeyError(f"unknown team {team!r}; known: {', '.join(TEAMS)}, llm")
    if team == "chatty":
        from silo.agents.chatty import chatty_team
        return chatty_team(inst, protocol)[0]
    task = get_task(inst.task)
    prog = TEAMS[team]
    caps, topology = protocol_capabilities(protocol, inst.n_agents)  # asked once, not per agent
    return [ScriptedAgent(prog(task, Ctx(a, inst.n_agents, protocol, inst.shards[a].data, inst.params, caps=caps,
                                         topology=topology), inst))
            for a in range(inst.n_agents)]


plugins.load_group("silo.teams")  # teams of other packages (entry points); TEAMS and register_team exist by now
