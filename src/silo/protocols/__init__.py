"""Protocol registry: name -> Protocol class. New protocols register here."""

from __future__ import annotations

from silo.protocols.base import ActionError, Protocol
from silo.protocols.messaging import P2P, Broadcast
from silo.protocols.sfs import SharedFS


class Solo(Protocol):
    """N = 1 baseline: one agent with the whole input and nothing to talk to."""

    name = "none"
    description = "You are the only agent; no communication is available."


PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (P2P, Broadcast, SharedFS, Solo)}
ALIASES = {"bp": "broadcast", "fs": "sfs", "peer-to-peer": "p2p", "solo": "none"}


class UnknownProtocolError(KeyError):
    """A protocol name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def protocol_class(name: str) -> type[Protocol]:
    """Resolve a protocol name or alias."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in PROTOCOLS:
        raise UnknownProtocolError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[key]


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    """Add a protocol class to the registry (used by extension modules)."""
    PROTOCOLS[cls.name] = cls
    return cls


__all__ = ["ActionError", "Protocol", "PROTOCOLS", "protocol_class", "register_protocol", "UnknownProtocolError"]
