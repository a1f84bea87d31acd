"""Task registry: `@register` on a TaskSpec subclass; look tasks up by id or slug."""

from __future__ import annotations

import importlib
import pkgutil
import re

from silo.tasks.base import TaskSpec

_REGISTRY: dict[str, TaskSpec] = {}
_LOADED = False


class TaskRegistrationError(ValueError):
    """A task class the registry cannot hold; the message names the class and the field."""


class UnknownTaskError(KeyError):
    """A task id or slug that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: type[TaskSpec]) -> type[TaskSpec]:
    """Class decorator adding a task to the registry."""
    check_task_class(cls)
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
    from silo import plugins  # tasks of other packages: entry points "silo.tasks" and SILO_PLUGINS modules

    plugins.import_modules(plugins.env_modules())
    plugins.load_group("silo.tasks")


def all_tasks() -> list[TaskSpec]:
    """Every registered task, ordered by level then id number."""
    _load()
    return sorted(_REGISTRY.values(), key=_order)


_ID = re.compile(r"[A-Z][A-Z0-9_]*-[0-9]+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _order(t: TaskSpec) -> tuple:
    """Level, then silo's own tasks before plugins', then id prefix and number."""
    prefix, _, number = t.id.rpartition("-")
    return t.level, not type(t).__module__.startswith(f"{__name__}."), prefix, int(number)


def check_task_class(cls: type) -> None:
    """Validate what the registry relies on, naming the class and the field (plugins register here too)."""
    where = f"task class {cls.__module__}.{cls.__qualname__}"
    tid, slug = getattr(cls, "id", None), getattr(cls, "slug", None)
    if not (isinstance(cls, type) and issubclass(cls, TaskSpec)):
        raise TaskRegistrationError(f"{where}: tasks must subclass silo.tasks.base.TaskSpec")
    if not isinstance(tid, str) or not _ID.fullmatch(tid):
        raise TaskRegistrationError(f"{where}: id {tid!r} must look like PREFIX-<integer>, e.g. 'X-1' (uppercase)")
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise TaskRegistrationError(f"{where}: slug {slug!r} must be lowercase letters, digits and dashes")
    for attr in ("level", "version"):
        v = getattr(cls, attr, None)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise TaskRegistrationError(f"{where}: {attr} must be an integer >= 1, got {v!r}")
    if cls.answer_kind not in ("global", "segmented"):
        raise TaskRegistrationError(f"{where}: answer_kind must be 'global' or 'segmented', got {cls.answer_kind!r}")
    clash = next((t for t in _REGISTRY.values() if t.id != tid and t.slug == slug), None)
    if clash is not None:
        raise TaskRegistrationError(f"{where}: slug {slug!r} is already task {clash.id}'s")


def get_task(key: str) -> TaskSpec:
    """Look a task up by id ('I-01'), slug ('global-max') or lowercase id."""
    _load()
    k = key.strip()
    for t in _REGISTRY.values():
        if k.upper() == t.id or k.lower() == t.slug:
            return t
    known = ", ".join(t.id for t in all_tasks())
    raise UnknownTaskError(f"unknown task {key!r}; known tasks: {known}")
