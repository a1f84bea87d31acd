"""chatty: a scripted team that talks like chat models do, whose information flow is known by construction.

Every agent chats (hellos, acknowledgements, questions), pastes shards in varied formats (JSON, code
fences, prose, markdown tables, CSV), forwards statistics (partials, merged statistics of sets it holds,
chain carries, halos, answers), sends partial lists, wrong statistics, decoys and wrong answers, and
submits at a time and with an answer drawn from a seeded RNG, so each episode is a different mix.
What each content truly carries is recorded in the team's Ledger (chatty_truth.py); hellos, decoys,
wrong statistics, wrong answers and partial lists carry nothing: a partial list of shard j always lacks
the same withheld items (so no number of them adds up to the shard) and its partial differs from the
shard's; a wrong statistic has every number moved and every flag flipped.

The truth of every agent is kept in `Ledger.records` (a side channel) and, at submit, in a `note` event
(`data.chatty_truth`), which the scorer does not read. scripts/held_accuracy.py compares it with the scorer.
"""

from __future__ import annotations

import random
from typing import Any

from silo.agents.chatty_text import ACKS, HELLOS, QUESTIONS, STYLES, corrupt, decoys, drop, items_of, render
from silo.agents.chatty_truth import Fact, Ledger
from silo.agents.scripted import ScriptedAgent
from silo.episode import Turn
from silo.protocols import parse_protocol_name
from silo.records import Action, Event, Instance
from silo.tasks import get_task

MODES = {"best": 45, "wrong": 18, "guess": 12, "lucky": 12, "never": 5, "eager": 8}
KINDS = {"hello": 6, "ack": 4, "question": 4, "raw": 12, "bundle": 8, "part": 12, "merged": 12, "carry": 10,
         "halo": 10, "answer": 10, "sublist": 8, "wrong": 8, "wrong_answer": 4, "decoy": 8}
MAX_ROUNDS = 16
ACTION_BUDGET = 24


class ChattyAgent(ScriptedAgent):
    """A scripted agent that also logs its constructed truth as a `note` event when it submits."""

    def __init__(self, program, ledger: Ledger, me: int):
        super().__init__(program)
        self.ledger, self.me = ledger, me

    async def take_turn(self, turn: Turn) -> None:
        await super().take_turn(turn)
        rec = self.ledger.records.get(self.me)
        if turn.submission is not None and rec is not None:
            turn.log(Event(round=turn.round, agent=self.me, kind="note", data={"chatty_truth": rec}))


def chatty_team(inst: Instance, protocol: str) -> tuple[list[ChattyAgent], Ledger]:
    """One chatty agent per shard, sharing the team's ledger (returned too: the truth's side channel)."""
    base = parse_protocol_name(protocol).base
    if base not in ("p2p", "broadcast", "sfs", "none"):
        raise ValueError(f"the chatty team talks over p2p, broadcast or sfs (or none at N = 1), not {protocol!r}")
    task = get_task(inst.task)
    led = Ledger(task, inst, protocol)
    agents = [ChattyAgent(_Speaker(led, a).program(), led, a) for a in range(inst.n_agents)]
    return agents, led


class _Speaker:
    """One agent's behaviour: what it reads, says and submits, all drawn from its own seeded RNG."""

    def __init__(self, led: Ledger, me: int):
        self.led, self.me, self.sem = led, me, led.sem
        self.inst, self.task, self.n = led.inst, led.task, led.inst.n_agents
        self.transport = parse_protocol_name(led.protocol).base
        self.rng = random.Random(f"chatty|{self.inst.id}|{led.protocol}|{me}")
        self.seq = 0
        self.seen: set[str] = set()
        self.words = tuple(self.inst.params.get("candidates") or self.inst.params.get("vocabulary") or ())

    @property
    def facts(self) -> set[Fact]:
        return self.led.facts[self.me]

    def program(self):
        rng = self.rng
        mode = rng.choices(list(MODES), weights=list(MODES.values()))[0]
        submit_at, patience = rng.randint(1, 4 + self.n // 3), rng.randint(0, 6)
        rnd = 1
        if self.n == 1:  # nothing to talk over: answer (or not) at once
            mode, submit_at = ("never" if mode == "never" else "best"), 1
        while True:
            used = 0
            if rnd == 1 or rng.random() < 0.85:
                used += yield from self._receive()
            if (mode != "never" or rnd <= submit_at) and self.n > 1:  # say something (round 1: always), maybe submit
                for _ in range(rng.choice((1, 1, 2, 2, 3) if rnd == 1 else (0, 1, 1, 2, 2, 3, 3))):
                    used += yield from self._speak(rnd, ACTION_BUDGET - 2 - used)
            if mode != "never" and rnd >= submit_at:
                answer = self._decide(mode, rnd >= submit_at + patience)
                if answer is not _NOT_YET:
                    self.led.records[self.me] = self.led.truth(self.me, rnd, answer, mode)
                    yield Action(name="submit_result", args={"answer": answer})
                    return
            yield Action(name="wait")
            rnd += 1

    def _decide(self, mode: str, late: bool) -> Any:
        truth = self.inst.truth[self.me]
        can = self.sem.can_answer(self.facts, self.me)
        if mode == "lucky":
            return truth
        if mode == "guess" or (mode == "best" and late and not can):
            return self._guess()
        if mode in ("best", "eager") and can:
            return truth
        if mode == "eager":
            return self._guess()
        if mode == "wrong" and (can or late):
            return self._wrong(truth)
        return _NOT_YET

    def _guess(self) -> Any:
        """What the agent's own shard alone suggests (may be right by luck)."""
        try:
            return self.task.solve([self.inst.shards[self.me].data], self.inst.params)[0]
        except Exception:
            return 0

    def _wrong(self, value: Any) -> Any:
        bad = corrupt(value, self.rng, self.words)
        if self.task.check(bad, value)[0]:
            from silo.tasks.base import wrong_answer
            bad = wrong_answer(value)
        return bad

    # ---- reading ------------------------------------------------------------------------
    def _receive(self):
        if self.n == 1:
            return 0
        if self.transport in ("p2p", "broadcast"):
            ok, msgs = yield Action(name="receive_messages")
            for m in msgs if ok else []:
                self.led.deliver(self.me, m["from"])
            return 1
        used = 0
        fresh = []
        for box in (str(self.me), "all"):
            ok, paths = yield Action(name="list_files", args={"prefix": f"mail/{box}/"})
            used += 1
            if ok:
                self.led.listed(self.me, paths)
                fresh += [p for p in paths if p not in self.seen and not p.startswith(f"mail/all/{self.me}-")]
        self.rng.shuffle(fresh)
        for p in fresh[:self.rng.choice((0, 2, 4, 6, 8, 12))]:
            ok, content = yield Action(name="read_file", args={"path": p})
            used += 1
            if ok:
                self.seen.add(p)
                self.led.read(self.me, p)
        return used

    # ---- speaking -----------------------------------------------------------------------
    def _speak(self, rnd: int, room: int):
        """Send one message (one to three parts) to one agent, some, or all; returns actions used."""
        if room < 1:
            return 0
        rng, others = self.rng, [a for a in range(self.n) if a != self.me]
        if self.transport == "broadcast" or rng.random() < 0.35:
            readers = others
        else:
            readers = rng.sample(others, min(len(others), rng.choice((1, 1, 1, 2, 3))))
        parts, facts = [], set()
        if rng.random() < 0.3:
            parts.append(self._chat(rng.choice(("hello", "ack", "question")) if rnd > 1 else "hello"))
        for _ in range(rng.choice((1, 1, 1, 2))):
            for _try in range(3):  # a kind the agent cannot produce for these readers: draw another
                kind = self._pick(rnd)
                made = self._chat(kind) if kind in ("hello", "ack", "question") else self._content(kind, readers, rnd)
                if made:
                    break
            if isinstance(made, tuple):
                parts.append(made[0])
                facts |= made[1]
                self.led.sent_kinds[kind] += 1
            elif made:
                parts.append(made)
        if not parts:
            return 0
        text = ("\n\n" if rng.random() < 0.5 else " ").join(parts)
        return (yield from self._post(readers, text, facts, room))

    def _pick(self, rnd: int) -> str:
        """A content kind: early on often the agent's own data, once it can, often the answer."""
        rng = self.rng
        if rnd <= 2 and rng.random() < 0.4:
            return "raw" if rng.random() < 0.6 else "part"
        if self.sem.can_answer(self.facts, self.me) and rng.random() < 0.4:
            return "answer"
        return rng.choices(list(KINDS), weights=list(KINDS.values()))[0]

    def _post(self, readers: list[int], text: str, facts: set[Fact], room: int):
        """Send or write `text`; the ledger records only what the engine accepted."""
        if self.transport == "broadcast":
            ok, _ = yield Action(name="broadcast_message", args={"content": text})
            if ok:
                self.led.send(self.me, readers, facts)
            return 1
        if self.transport == "p2p":
            for r in readers[:room]:
                ok, _ = yield Action(name="send_message", args={"target_id": r, "content": text})
                if ok:
                    self.led.send(self.me, [r], facts)
            return len(readers[:room])
        self.seq += 1
        box = str(readers[0]) if len(readers) == 1 else "all"
        path = f"mail/{box}/{self.me}-{self.seq}"
        ok, _ = yield Action(name="write_file", args={"path": path, "content": text})
        if ok:
            self.led.write(self.me, path, facts, readers if box != "all" else list(range(self.n)))
        return 1

    def _chat(self, kind: str) -> str:
        table = {"hello": HELLOS, "ack": ACKS, "question": QUESTIONS}[kind]
        return self.rng.choice(table).format(me=self.me, o=self.rng.randrange(self.n))

    def _content(self, kind: str, readers: list[int], rnd: int) -> tuple[str, set[Fact]] | str | None:
        """(text, facts) for a content kind the agent can truly produce for these readers, else None."""
        rng, sem, facts = self.rng, self.sem, self.facts
        style = rng.choice(STYLES)
        known = sorted({f.j for f in facts if f.kind in ("raw", "part")})
        raws = sorted(f.j for f in facts if f.kind == "raw")
        params = self.inst.params
        if self.transport == "sfs" and len(readers) > 1:
            readers = list(range(self.n))  # a shared file may be read by anyone
        if kind == "raw":
            j = self.me if rng.random() < 0.5 or rnd <= 2 else rng.choice(raws)
            who = "my data" if j == self.me else f"agent {j}'s data, forwarded in full"
            return f"Here is {who}:\n{render(sem.data[j], style, rng)}", {Fact("raw", j)}
        if kind == "bundle" and len(raws) > 1:
            js = sorted(rng.sample(raws, rng.randint(max(2, len(raws) // 2), len(raws))))
            body = "\n".join(f"Agent {j}: {render(sem.data[j], rng.choice(('json', 'prose')), rng)}" for j in js)
            return f"Everything I have so far:\n{body}", {Fact("raw", j) for j in js}
        if kind == "merged" and len(raws) > 1:
            group = frozenset(rng.sample(raws, rng.randint(2, len(raws))))
            if sem.task.level == 2:  # ordered data: a contiguous run of the agent's raw shards
                lo = rng.choice(sorted(group))
                group = frozenset(range(lo, next(k for k in range(lo, self.n + 1) if k not in raws)))
            value = sem.merged(group)
            if value is not None:
                names = ", ".join(map(str, sorted(group)))
                head = rng.choice((f"Combined summary of agents {names}", "Combined summary"))
                return f"{head}: {render(value, style, rng)}", {Fact("set", -1, group=group)}
        if kind == "part":
            j = rng.choice(known)
            value = self.task.partial(sem.data[j], j, params)
            return f"Summary of agent {j}'s shard: {render(value, style, rng)}", {Fact("part", j)}
        if kind == "carry" and sem.chain:
            ks = [k for k in range(self.n) if sem.can_carry(facts, k) and all(r > k for r in readers)]
            if ks:
                k = rng.choice(ks)
                return (f"Running value through agent {k}: {render(sem.carries[k], style, rng)}", {Fact("carry", k)})
        if kind == "halo" and sem.halo and len(readers) == 1:
            t = readers[0]
            if self.me in sem.dep[t]:
                value = self.task.halo_out(sem.data[self.me], self.me, t, params)
                return f"Boundary for agent {t}: {render(value, style, rng)}", {Fact("halo", self.me, t)}
        if kind == "answer":
            ts = [t for t in range(self.n) if sem.can_answer(facts, t) and all(sem.allowed(Fact("ans", t), r)
                                                                               for r in readers)]
            if ts:
                t = rng.choice(ts)
                who = "The answer" if not sem.segmented else f"Agent {t}, your answer"
                return f"{who} is {render(self.inst.truth[t], _answer_style(self.inst.truth[t], style), rng)}", \
                    {Fact("ans", t)}
        if kind == "sublist":
            js = [j for j in raws if sem.withheld[j] is not None]
            if js:
                j = rng.choice(js)
                sub = drop(sem.data[j], sem.withheld[j])
                return f"Some of agent {j}'s items: {render(sub, style, rng)}", set()
        if kind == "wrong" and known:
            j = rng.choice(known)
            value = corrupt(self.task.partial(sem.data[j], j, params), rng, self.words)
            return f"Summary of agent {j}'s shard: {render(value, style, rng)}", set()
        if kind == "wrong_answer":
            wrong = self._wrong(self.inst.truth[self.me])
            return f"I think the answer is {render(wrong, _answer_style(wrong, style), rng)}", set()
        if kind == "decoy":
            size = items_of(sem.data[self.me])
            return rng.choice(decoys(params, self.n, self.me, rnd, size)), set()
        return None


_NOT_YET = object()


def _answer_style(value, style: str) -> str:
    """An answer that is a word (I-03's winner) is written as the word: a table of its letters is how data
    strings (II-13, II-15) are pasted, not how anyone names a winner."""
    return "prose" if isinstance(value, str) and style in ("markdown", "csv") else style

