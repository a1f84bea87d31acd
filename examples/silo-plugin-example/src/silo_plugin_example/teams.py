"""relay: a scripted team that passes a running result along the agents 0 -> 1 -> ... -> N-1 and back.

Agent k waits for the partial of agents 0..k-1, adds its own and passes it on; the last agent
combines everything and sends the answers back down the chain. It only uses the protocol-neutral
helpers of silo.agents.channel.Ctx, so it runs on any protocol that can carry messages or files.
"""

from __future__ import annotations

from silo.agents.scripted import wait


def relay(task, ctx, inst):
    if ctx.n == 1:
        yield from ctx.submit(task.solve([ctx.data], ctx.params)[0])
        return
    mine = task.partial(ctx.data, ctx.me, ctx.params)
    parts = {ctx.me: mine}
    if ctx.me > 0:
        got = yield from ctx.collect("parts", {ctx.me - 1})
        parts.update({int(k): v for k, v in got[ctx.me - 1].items()})
    if ctx.me < ctx.n - 1:
        yield from ctx.send(ctx.me + 1, "parts", {str(k): v for k, v in parts.items()})
        yield from wait()
        answers = yield from ctx.collect("answers", {ctx.me + 1})
        answers = answers[ctx.me + 1]
    else:
        answers = task.combine([parts[a] for a in range(ctx.n)], ctx.params)
    if ctx.me > 0:
        yield from ctx.send(ctx.me - 1, "answers", answers)
    yield from ctx.submit(answers[ctx.me])
