"""Protocol-neutral messaging for scripted agents: send to one agent or all, read what arrived.

Programs are generators that yield Actions and receive (ok, result); these helpers are
sub-generators used with `yield from`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from silo.records import Action


@dataclass
class Ctx:
    """What a scripted agent knows: its id, N, protocol, its shard and public params."""

    me: int
    n: int
    protocol: str
    data: Any
    params: dict
    seq: int = 0
    seen: set = field(default_factory=set)
    inbox: list[dict] = field(default_factory=list)

    def send(self, to: int | None, kind: str, data: Any):
        """Send a payload to agent `to` (None: every other agent)."""
        body = json.dumps({"from": self.me, "to": to, "kind": kind, "data": data}, separators=(",", ":"))
        self.seq += 1
        if self.protocol == "p2p":
            targets = [to] if to is not None else [a for a in range(self.n) if a != self.me]
            for t in targets:
                yield Action(name="send_message", args={"target_id": t, "content": body})
        elif self.protocol == "broadcast":
            yield Action(name="broadcast_message", args={"content": body})
        elif self.protocol == "sfs":
            box = "all" if to is None else str(to)
            yield Action(name="write_file", args={"path": f"mail/{box}/{self.me}-{self.seq}", "content": body})
        else:
            raise ValueError(f"scripted agents cannot send over protocol {self.protocol!r}")

    def receive(self):
        """Fetch newly arrived payloads addressed to me (or to all) into self.inbox."""
        if self.protocol in ("p2p", "broadcast"):
            ok, msgs = yield Action(name="receive_messages")
            for m in msgs if ok else []:
                self._accept(m["content"])
        elif self.protocol == "sfs":
            for box in (str(self.me), "all"):
                ok, paths = yield Action(name="list_files", args={"prefix": f"mail/{box}/"})
                for p in paths if ok else []:
                    if p not in self.seen and not p.startswith(f"mail/all/{self.me}-"):
                        self.seen.add(p)
                        ok, content = yield Action(name="read_file", args={"path": p})
                        if ok:
                            self._accept(content)

    def _accept(self, content: str) -> None:
        msg = json.loads(content)
        if msg["to"] in (None, self.me) and msg["from"] != self.me:
            self.inbox.append(msg)

    def collect(self, kind: str, senders: set[int]):
        """Wait (round by round) until a `kind` payload from every sender arrived; return {sender: data}."""
        while True:
            yield from self.receive()
            got = {m["from"]: m["data"] for m in self.inbox if m["kind"] == kind and m["from"] in senders}
            if len(got) == len(senders):
                return got
            yield Action(name="wait")
