"""Protocol-neutral messaging for scripted agents: send to one agent or all, read what arrived.

Programs are generators that yield Actions and receive (ok, result); these helpers are
sub-generators used with `yield from`.

On a constrained graph (p2p:<topology>) payloads are routed: one to an agent goes to the next hop
of a shortest path (graph.next_hop), one to all is flooded to every neighbour; every payload has an
(origin, seq) id, so duplicates are dropped, and a relay forwards all it received in one turn as one
bundle (a JSON list of payloads) per neighbour. Agents leave on submit, so before submitting an agent
relays every flow declared with `plan` that routes through it (floods need no plan: an agent forwards
a payload in the turn it first receives it, before it can submit).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from silo.protocols import protocol_class
from silo.protocols.commit import answer_key
from silo.protocols.graph import build_graph
from silo.records import Action


def protocol_capabilities(protocol: str, n: int) -> tuple[frozenset[str], str | None]:
    """(capabilities, graph topology or None) of a protocol, asked of an instance of it."""
    cls = protocol_class(protocol)
    return cls(n).capabilities(), getattr(cls, "topology", None)


def transport(caps: frozenset[str]) -> str | None:
    """How payloads travel, by preference: direct messages, broadcast, shared files, blackboard entries."""
    if "inbox" in caps and "direct" in caps:
        return "p2p"
    if "inbox" in caps and "broadcast" in caps:
        return "broadcast"
    if "files" in caps:
        return "sfs"
    if "entries" in caps:
        return "blackboard"
    return None


MAX_BUNDLE_CHARS = 60000  # under the default 65,536-character message limit
ENTRY_TYPE = {"shard": "data", "partial": "partial", "answer": "result"}


@dataclass
class Ctx:
    """What a scripted agent knows: its id, N, protocol, its shard and public params.

    How it communicates follows the protocol's capabilities (what its actions can do), not its name:
    `caps` as computed once per team by `protocol_capabilities`, else computed here."""

    me: int
    n: int
    protocol: str
    data: Any
    params: dict
    seq: int = 0
    seen: set = field(default_factory=set)
    inbox: list[dict] = field(default_factory=list)
    caps: frozenset[str] | None = None
    topology: str | None = None

    def __post_init__(self):
        if self.caps is None:
            self.caps, self.topology = protocol_capabilities(self.protocol, self.n)
        self.transport = transport(self.caps)
        self.graph = build_graph(self.topology, self.n) if self.topology and self.n > 1 else None
        self.suff, self.commit = "check_reach" in self.caps, "propose" in self.caps
        self.relay_due: Counter = Counter()
        self.relayed: Counter = Counter()
        self._ids: set[tuple[int, int]] = set()

    def send(self, to: int | None, kind: str, data: Any):
        """Send a payload to agent `to` (None: every other agent)."""
        yield from self.send_many([(to, kind, data)])

    def send_many(self, items: list[tuple[int | None, str, Any]]):
        """Send several payloads; on a graph, those sharing a next hop travel as one bundle."""
        if self.graph is not None:
            out: dict[int, list[dict]] = defaultdict(list)
            for to, kind, data in items:
                body = {"from": self.me, "to": to, "kind": kind, "data": data, "seq": self.seq}
                self._ids.add((self.me, self.seq))
                self.seq += 1
                for hop in self.graph.neighbours(self.me) if to is None else [self.graph.next_hop(self.me, to)]:
                    out[hop].append(body)
            for hop in sorted(out):
                yield from self._send_bundle(hop, out[hop])
            return
        for to, kind, data in items:
            yield from self._send_one(to, kind, data)

    def _send_one(self, to: int | None, kind: str, data: Any):
        body = json.dumps({"from": self.me, "to": to, "kind": kind, "data": data}, separators=(",", ":"))
        self.seq += 1
        box = "all" if to is None else str(to)
        if self.transport == "p2p":
            targets = [to] if to is not None else [a for a in range(self.n) if a != self.me]
            for t in targets:
                yield Action(name="send_message", args={"target_id": t, "content": body})
        elif self.transport == "broadcast":
            yield Action(name="broadcast_message", args={"content": body})
        elif self.transport == "sfs":
            yield Action(name="write_file", args={"path": f"mail/{box}/{self.me}-{self.seq}", "content": body})
        elif self.transport == "blackboard":
            yield Action(name="append_entry", args={"key": f"mail/{box}/{self.me}-{self.seq}",
                                                    "type": ENTRY_TYPE.get(kind, "note"), "value": json.loads(body)})
        else:
            raise ValueError(f"scripted agents cannot send over protocol {self.protocol!r}: it offers none of "
                             "send_message + receive_messages, broadcast_message + receive_messages, write_file, "
                             f"append_entry (capabilities: {', '.join(sorted(self.caps)) or 'none'})")

    def _send_bundle(self, hop: int, bodies: list[dict]):
        chunk: list[str] = []
        for b in [json.dumps(b, separators=(",", ":")) for b in bodies]:
            if chunk and sum(len(c) + 1 for c in chunk) + len(b) + 1 > MAX_BUNDLE_CHARS:
                yield Action(name="send_message", args={"target_id": hop, "content": f"[{','.join(chunk)}]"})
                chunk = []
            chunk.append(b)
        if chunk:
            yield Action(name="send_message", args={"target_id": hop, "content": f"[{','.join(chunk)}]"})

    def receive(self):
        """Fetch newly arrived payloads addressed to me (or to all) into self.inbox (and relay on a graph)."""
        if self.graph is not None:
            yield from self._receive_routed()
        elif self.transport in ("p2p", "broadcast"):
            ok, msgs = yield Action(name="receive_messages")
            for m in msgs if ok else []:
                self._accept(json.loads(m["content"]))
        elif self.transport in ("sfs", "blackboard"):
            for box in (str(self.me), "all"):
                yield from self._read_box(box)

    def _read_box(self, box: str):
        bb = self.transport == "blackboard"
        listing = Action(name="list_entries" if bb else "list_files", args={"prefix": f"mail/{box}/"})
        ok, res = yield listing
        paths = [e["key"] for e in res["entries"]] if ok and bb else (res if ok else [])
        for p in paths:
            if p not in self.seen and not p.startswith(f"mail/all/{self.me}-"):
                self.seen.add(p)
                read = Action(name="read_entry", args={"key": p}) if bb else Action(name="read_file", args={"path": p})
                ok, content = yield read
                if ok:
                    self._accept(content["value"] if bb else json.loads(content))

    def _accept(self, msg: dict) -> None:
        if msg["to"] in (None, self.me) and msg["from"] != self.me:
            self.inbox.append(msg)

    def _receive_routed(self):
        ok, msgs = yield Action(name="receive_messages")
        fresh, via = [], defaultdict(set)
        for m in msgs if ok else []:
            for body in json.loads(m["content"]):
                key = (body["from"], body["seq"])
                via[key].add(m["from"])
                if key not in self._ids:
                    self._ids.add(key)
                    fresh.append(body)
        out: dict[int, list[dict]] = defaultdict(list)
        for body in fresh:
            to, origin = body["to"], body["from"]
            if to is None:
                self._accept(body)
                for hop in self.graph.neighbours(self.me):
                    if hop != origin and hop not in via[(origin, body["seq"])]:
                        out[hop].append(body)
            elif to == self.me:
                self.inbox.append(body)
            else:
                out[self.graph.next_hop(self.me, to)].append(body)
                self.relayed[(origin, to)] += 1
        for hop in sorted(out):
            yield from self._send_bundle(hop, out[hop])

    def plan(self, flows: list[tuple[int, int | None]]) -> None:
        """Declare the team's point-to-point flows (src, dst); on a graph, count those I must relay."""
        if self.graph is None:
            return
        for src, dst in flows:
            if dst is not None and src != dst and self.me in self.graph.route(src, dst)[1:-1]:
                self.relay_due[(src, dst)] += 1

    def _relays_pending(self) -> bool:
        return any(self.relayed[k] < c for k, c in self.relay_due.items())

    def finish(self):
        """Stay (receiving and relaying) until every planned flow through me has been forwarded."""
        while self._relays_pending():
            yield from self.receive()
            if self._relays_pending():
                yield Action(name="wait")

    def submit(self, answer: Any):
        """Relay what others still need, then submit; under +commit propose first and endorse equal proposals."""
        yield from self.finish()
        if self.suff:
            yield Action(name="check_reach")
        args: dict[str, Any] = {"answer": answer}
        if self.commit:
            ok, res = yield Action(name="propose", args={"answer": answer})
            ok2, props = yield Action(name="read_proposals")
            key = answer_key(answer)
            agree = {p["proposal_id"] for p in (props if ok2 else []) if answer_key(p["answer"]) == key}
            args["agrees_with"] = sorted(agree | ({res["proposal_id"]} if ok else set()))
        yield Action(name="submit_result", args=args)

    def collect(self, kind: str, senders: set[int]):
        """Wait (round by round) until a `kind` payload from every sender arrived; return {sender: data}."""
        while True:
            yield from self.receive()
            got = {m["from"]: m["data"] for m in self.inbox if m["kind"] == kind and m["from"] in senders}
            if len(got) == len(senders):
                return got
            yield Action(name="wait")
