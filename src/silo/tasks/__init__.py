"""Task registry: `@register` on a TaskSpec subclass; look tasks up by id or slug."""

from __future__ import annotations

import importlib
import pkgutil

from silo.tasks.base import TaskSpec

_REGISTRY: dict[str, TaskSpec] = {}
_LOADED = False


class UnknownTaskError(KeyError):
    """A task id or slug that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: type[TaskSpec]) -> type[TaskSpec]:
    """Class decorator adding a task to the registry."""
    if cls.id in _REGISTRY:
        raise ValueError(f"task {cls.id} registered twice")
    _REGISTRY[cls.id] = cls()
    return cls


def _load() -> None:
    global _LOADED
    if _LOADED:  # a flag, not `if _REGISTRY`: importing one task module first must not hide the rest
        return
    _LOADED = True
    for mod in pkgutil.iter_modules(__path__):
        if mod.name[:1] == "t" and mod.name[1:3].isdigit():  # task modules: tNN_slug.py
            importlib.import_module(f"{__name__}.{mod.name}")


def all_tasks() -> list[TaskSpec]:
    """Every registered task, ordered by level then id number."""
    _load()
    return sorted(_REGISTRY.values(), key=lambda t: (t.level, int(t.id.split("-")[1])))


def get_task(key: str) -> TaskSpec:
    """Look a task up by id ('I-01'), slug ('global-max') or lowercase id."""
    _load()
    k = key.strip()
    for t in _REGISTRY.values():
        if k.upper() == t.id or k.lower() == t.slug:
            return t
    known = ", ".join(t.id for t in all_tasks())
    raise UnknownTaskError(f"unknown task {key!r}; known tasks: {known}")
