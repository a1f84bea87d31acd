"""Extensions without editing silo: tasks, protocols and scripted teams from other packages.

Two ways in, both loaded by every `silo` subcommand (and by the library on first registry lookup):

- entry points, declared in the plugin package's pyproject.toml:

      [project.entry-points."silo.tasks"]
      mytasks = "mypkg.tasks"                 # a module whose import registers tasks (@silo.tasks.register)
      [project.entry-points."silo.protocols"]
      relay = "mypkg.relay:Relay"             # a Protocol subclass (or a module that registers some)
      [project.entry-points."silo.teams"]
      echo = "mypkg.teams:echo"               # a scripted program (task, ctx, instance) -> generator;
                                              # the entry point's name is the team's name
- modules imported by name: `silo --plugin mypkg.tasks ...` (repeatable) or SILO_PLUGINS=mod1,mod2
  (the CLI exports SILO_PLUGINS, so Ray workers and subprocesses import the same modules).

Ids are validated where they are registered (a task id must look like PREFIX-<integer>); a plugin
found through an entry point that fails to load or register is skipped with one warning line on
stderr, so one broken package cannot take `silo tasks` down; a module named explicitly fails loudly.
The installed distributions are scanned once per process, for the three groups at once (`scan`), and not at all
(importlib.metadata not even imported) when no entry_points.txt where importlib.metadata looks names a silo
group (`_declared`): every `silo` command starts with this.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

GROUPS = ("silo.tasks", "silo.protocols", "silo.teams")
ENV = "SILO_PLUGINS"
_found: list[dict[str, list]] = []  # this process's one scan (a forked worker inherits it)
_loaded: set[tuple[str, str, str]] = set()
_imported: set[str] = set()
_warned: set[str] = set()


class PluginError(ValueError):
    """A plugin that cannot be imported or registered; the message names it and why."""


def env_modules() -> list[str]:
    """Module names listed in SILO_PLUGINS (comma- or space-separated)."""
    return [m for m in os.environ.get(ENV, "").replace(",", " ").split() if m]


def import_modules(names: list[str]) -> None:
    """Import plugin modules by name (their import registers what they define)."""
    for name in names:
        if name in _imported:
            continue
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise PluginError(f"cannot import plugin module {name!r}: {e}") from None
        except ValueError as e:
            raise PluginError(f"plugin module {name!r}: {e}") from None
        _imported.add(name)


def scan() -> dict[str, list]:
    """The entry points of every group of GROUPS, by group, from one pass over the installed distributions;
    none (and importlib.metadata never imported) when no distribution declares a silo group."""
    if not _declared():
        return {}
    from importlib.metadata import entry_points

    eps = entry_points()  # one pass; entry_points(group=g) would make the same pass for each group
    return {g: list(eps.select(group=g)) for g in GROUPS}


def found(group: str) -> list:
    """The entry points of one group, from this process's scan (made on first use)."""
    if not _found:
        _found.append(scan())
    return _found[0].get(group, [])


def _declared() -> bool:
    """Whether some distribution may declare an entry point of a silo group: False only when importlib.metadata
    would look in folders alone (its path finder on sys.path: no other finder of distributions, no zip or
    .egg entry) and no entry_points.txt of a *.dist-info or *.egg-info there has a line starting "[silo."
    (a group's header: importlib.metadata strips the line, then the brackets around the name)."""
    from importlib.machinery import PathFinder

    if any(getattr(f, "find_distributions", None) is not None and f is not PathFinder for f in sys.meta_path):
        return True
    for root in sys.path:
        try:
            children = os.listdir(root or ".")
        except OSError:
            if os.path.isfile(root or "."):  # a zip on sys.path: its metadata is read from the archive
                return True
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            return True
        for child in children:
            if child.lower().endswith((".dist-info", ".egg-info")) and _names_a_group(os.path.join(root, child)):
                return True
    return False


def _names_a_group(info: str) -> bool:
    try:
        with open(os.path.join(info, "entry_points.txt"), "rb") as f:
            return b"[silo." in f.read()
    except OSError:  # none (most distributions), or unreadable: importlib.metadata reads none either
        return False


def load_group(group: str) -> None:
    """Load every entry point of one group (once); broken plugins are skipped with a warning."""
    for ep in found(group):
        key = (group, ep.name, ep.value)
        if key in _loaded:
            continue
        _loaded.add(key)
        try:
            _install(group, ep.name, ep.load())
        except Exception as e:  # a third-party import may raise anything: report it, keep the rest working
            _warn(f"warning: skipped plugin {ep.name} ({ep.value}, entry point {group}): {type(e).__name__}: {e}")


def load_all(modules: list[str] | None = None) -> None:
    """Everything: modules named here and in SILO_PLUGINS, then every entry-point group."""
    import_modules([*env_modules(), *(modules or [])])
    for group in GROUPS:
        load_group(group)


def _install(group: str, name: str, obj) -> None:
    if inspect.ismodule(obj):
        return  # importing it registered what it defines
    if group == "silo.tasks":
        from silo.tasks import all_tasks, register
        from silo.tasks.base import TaskSpec

        if not (inspect.isclass(obj) and issubclass(obj, TaskSpec)):
            raise PluginError(f"expected a module or a TaskSpec subclass, got {obj!r}")
        if not any(type(t) is obj for t in all_tasks()):
            register(obj)
    elif group == "silo.protocols":
        from silo.protocols import PROTOCOLS, Protocol, register_protocol

        if not (inspect.isclass(obj) and issubclass(obj, Protocol)):
            raise PluginError(f"expected a module or a Protocol subclass, got {obj!r}")
        if PROTOCOLS.get(getattr(obj, "name", None)) is not obj:
            register_protocol(obj)
    elif group == "silo.teams":
        from silo.agents.scripted import TEAMS, register_team

        if TEAMS.get(name) is not obj:
            register_team(name, obj)


def _warn(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        print(msg, file=sys.stderr)
