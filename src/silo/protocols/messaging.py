"""Peer-to-peer and broadcast messaging: mailboxes filled at round end, fetched by receive."""

from __future__ import annotations

from dataclasses import dataclass

from silo.protocols.base import Protocol, bookkeeping_event, count_result, spec
from silo.records import Event


def deliver_event(rnd: int, agent: int, action: str, msgs: list[tuple[int, int, int]]) -> Event:
    """The one deliver event of a receive: (message id, sender, chars) of each message, in delivery order."""
    return Event(round=rnd, agent=agent, kind="deliver", action=action, msg_ids=[m[0] for m in msgs],
                 senders=[m[1] for m in msgs], chars=sum(m[2] for m in msgs))


RECEIVE = spec("receive_messages", "Fetch every message delivered to you since your last call.")


@dataclass
class Message:
    id: int
    sender: int
    to: list[int]
    round: int
    content: str


class Mailboxes(Protocol):
    """Shared machinery: buffered sends, per-recipient ordered mailboxes."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._next_id = 0
        self._pending: list[Message] = []
        self._inbox: dict[int, list[Message]] = {i: [] for i in range(self.n)}
        self._departed: set[int] = set()  # agents that submitted in an earlier round

    def observe(self, events: list[Event]) -> None:
        super().observe(events)
        self._departed |= {e.agent for e in events if e.kind == "submit"}

    def _send(self, rnd: int, agent: int, to: list[int], content: str) -> tuple[dict, list[Event]]:
        self.check_content(content, self.limits.max_message_chars)
        msg = Message(self._next_id, agent, to, rnd, content)
        self._next_id += 1
        self._pending.append(msg)
        ev = bookkeeping_event(round=rnd, agent=agent, kind="send", action=self.send_action, msg_id=msg.id,
                               to=to, content=content, chars=len(content))  # one per message: 1,504 -> 648 bytes
        gone = sorted(self._departed & set(to)) if self.options.get("tell_departed") else []
        if gone:  # option tell_departed (off by default): the sender learns the message will not be read
            who = ", ".join(map(str, gone))
            return {"ok": len(gone) < len(to), "message_id": msg.id, "departed": gone,
                    "note": f"{'agents' if len(gone) > 1 else 'agent'} {who} {'have' if len(gone) > 1 else 'has'} "
                            "already submitted and will not read it"}, [ev]
        return {"ok": True, "message_id": msg.id}, [ev]

    def end_round(self, rnd: int) -> list[Event]:
        # deterministic delivery order: sender id, then the sender's own order
        for msg in sorted(self._pending, key=lambda m: (m.sender, m.id)):
            for r in msg.to:
                self._inbox[r].append(msg)
        self._pending.clear()
        return []

    def do_receive_messages(self, rnd: int, agent: int) -> tuple[list[dict], list[Event]]:
        msgs, self._inbox[agent] = self._inbox[agent], []
        events = [bookkeeping_event(round=rnd, agent=agent, kind="action", action="receive_messages",
                                    result=count_result(len(msgs)))]
        if msgs:  # one deliver event per receive, listing every message it delivered in order
            events.append(deliver_event(rnd, agent, "receive_messages", [(m.id, m.sender, len(m.content))
                                                                         for m in msgs]))
        return [{"from": m.sender, "round": m.round, "content": m.content} for m in msgs], events


class P2P(Mailboxes):
    """Directed messages between any two agents; order kept per sender-recipient pair."""

    name = "p2p"
    send_action = "send_message"
    description = "Send private messages to one agent at a time; read yours with receive_messages."

    def specs(self):
        send = spec("send_message", "Send a text message to one other agent (delivered next round).",
                    target_id=("integer", "id of the receiving agent"), content=("string", "message text"))
        return [send, RECEIVE]

    def do_send_message(self, rnd: int, agent: int, target_id: int, content: str):
        self.check_target(agent, target_id)
        return self._send(rnd, agent, [target_id], content)


class Broadcast(Mailboxes):
    """Every message reaches every other agent; one chronological view per round."""

    name = "broadcast"
    send_action = "broadcast_message"
    description = "Messages go to every agent; read them with receive_messages."

    def specs(self):
        bc = spec("broadcast_message", "Send a text message to all other agents (delivered next round).",
                  content=("string", "message text"))
        agents = spec("list_agents", "List the ids of all agents.")
        return [bc, RECEIVE, agents]

    def do_broadcast_message(self, rnd: int, agent: int, content: str):
        return self._send(rnd, agent, [a for a in range(self.n) if a != agent], content)

    def do_list_agents(self, rnd: int, agent: int):
        ids = list(range(self.n))
        return ids, [bookkeeping_event(round=rnd, agent=agent, kind="action", action="list_agents",
                                       result=count_result(self.n))]
