"""Protocol registry: name -> Protocol class. New protocols register here.

Names (usable from the CLI and suite files; EpisodeConfig.protocol keeps the canonical name):
  p2p, broadcast, sfs, blackboard, none      base protocols (aliases: bp, fs, peer-to-peer, solo, bb)
  p2p:<topology>                             P2P restricted to a graph: ring, star, grid, tree<k>, smallworld
  <name>+commit, <name>+suff                 layers wrapping any protocol: proposals with endorsements,
                                             and the check_reach sufficiency tool (both: +commit+suff)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from silo.protocols.base import ActionError, Protocol
from silo.protocols.blackboard import Blackboard
from silo.protocols.commit import CommitLayer
from silo.protocols.graph import TOPOLOGY_HELP, GraphP2P, UnknownTopologyError, canonical_topology
from silo.protocols.messaging import P2P, Broadcast
from silo.protocols.sfs import SharedFS
from silo.protocols.sufficiency import SufficiencyLayer


class Solo(Protocol):
    """N = 1 baseline: one agent with the whole input and nothing to talk to."""

    name = "none"
    description = "You are the only agent; no communication is available."


PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (P2P, Broadcast, SharedFS, Blackboard, Solo)}
ALIASES = {"bp": "broadcast", "fs": "sfs", "peer-to-peer": "p2p", "solo": "none", "bb": "blackboard"}
LAYERS: dict[str, type[Protocol]] = {"commit": CommitLayer, "suff": SufficiencyLayer}  # canonical suffix order
_BUILT: dict[str, type[Protocol]] = {}


class UnknownProtocolError(KeyError):
    """A protocol name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ProtocolName:
    """A parsed protocol name: base transport, optional graph topology, layers."""

    base: str
    topology: str | None = None
    commit: bool = False
    suff: bool = False

    @property
    def canonical(self) -> str:
        """The name recorded in episode configs (topology and suffixes in canonical form and order)."""
        name = self.base + (f":{self.topology}" if self.topology else "")
        return name + "".join(f"+{k}" for k in LAYERS if getattr(self, k))


def valid_names_help() -> str:
    """What protocol names are valid, for error messages."""
    return (f"valid: {', '.join(sorted(PROTOCOLS))}; p2p:<topology> with topology {TOPOLOGY_HELP}; "
            f"suffixes {', '.join('+' + k for k in LAYERS)} on any of these (e.g. broadcast+commit, sfs+suff, "
            "p2p:ring+commit+suff)")


def parse_protocol_name(name: str) -> ProtocolName:
    """Parse and validate a protocol name; raise UnknownProtocolError listing what is valid."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownProtocolError(f"empty protocol name; {valid_names_help()}")
    head, *layers = name.strip().lower().split("+")
    base, _, topo = head.partition(":")
    base = ALIASES.get(base, base)
    if base not in PROTOCOLS:
        _load_plugins()
    bad = [x for x in layers if x not in LAYERS]
    if base not in PROTOCOLS or bad or len(set(layers)) != len(layers):
        raise UnknownProtocolError(f"unknown protocol {name!r}; {valid_names_help()}")
    if base == "none" and layers:
        raise UnknownProtocolError(f"protocol {name!r}: 'none' (N = 1) has nothing to wrap; {valid_names_help()}")
    if ":" in head:
        if base != "p2p":
            raise UnknownProtocolError(f"unknown protocol {name!r}: only p2p takes a topology; {valid_names_help()}")
        try:
            topo = canonical_topology(topo)
        except UnknownTopologyError as e:
            raise UnknownProtocolError(f"unknown protocol {name!r}: unknown topology {topo!r}; "
                                       f"{valid_names_help()}") from e
    return ProtocolName(base, topo or None, "commit" in layers, "suff" in layers)


def protocol_class(name: str) -> type[Protocol]:
    """Resolve a protocol name or alias (with topology and layer suffixes) to a class named canonically."""
    pn = parse_protocol_name(name)
    key = pn.canonical
    if key in PROTOCOLS:
        return PROTOCOLS[key]
    if key not in _BUILT:
        if not (pn.commit or pn.suff):  # a graph-constrained P2P
            _BUILT[key] = type(f"P2P_{pn.topology}", (GraphP2P,), {"name": key, "topology": pn.topology,
                                                                    "__module__": GraphP2P.__module__})
        else:
            base = protocol_class(ProtocolName(pn.base, pn.topology).canonical)
            mixins = tuple(LAYERS[k] for k in reversed(LAYERS) if getattr(pn, k))  # suff outermost
            desc = base.description + "".join(_LAYER_TEXT[k] for k in LAYERS if getattr(pn, k))
            _BUILT[key] = type(key, (*mixins, base), {"name": key, "description": desc, "__module__": __name__})
    return _BUILT[key]


_LAYER_TEXT = {
    "commit": " You can also propose an answer to everyone (propose, read_proposals) and, when you submit, "
              "declare which proposals you agree with.",
    "suff": " check_reach tells you whose data can have reached you so far.",
}


class ProtocolRegistrationError(ValueError):
    """A protocol class the registry cannot hold; the message names the class and the field."""


_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    """Add a protocol class to the registry (a decorator for extension modules); its name is validated."""
    where = f"protocol class {getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise ProtocolRegistrationError(f"{where}: protocols must subclass silo.protocols.Protocol")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ProtocolRegistrationError(f"{where}: name {name!r} must be lowercase letters, digits, '_' and '-' "
                                        "(':' and '+' are the topology and layer syntax)")
    if name in ALIASES or name in LAYERS or (name in PROTOCOLS and PROTOCOLS[name] is not cls):
        raise ProtocolRegistrationError(f"{where}: name {name!r} is already taken")
    PROTOCOLS[name] = cls
    return cls


_PLUGINS_LOADED = False


def _load_plugins() -> None:
    """Protocols of other packages (entry points "silo.protocols", SILO_PLUGINS modules), once, on demand."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from silo import plugins

    plugins.import_modules(plugins.env_modules())
    plugins.load_group("silo.protocols")


__all__ = ["ActionError", "Protocol", "PROTOCOLS", "ProtocolName", "ProtocolRegistrationError", "parse_protocol_name",
           "protocol_class", "register_protocol", "UnknownProtocolError", "valid_names_help"]
