"""Task registry: `@register` on a TaskSpec subclass; look tasks up by id or slug, optionally pinned to a version.

A task id may be registered once per version: the highest version is the default, older ones stay
reachable as 'I-03@1' (the reference readings of the paper are version 1 of every task)."""

from __future__ import annotations

import importlib
import pkgutil
import re

from silo.tasks.base import TaskSpec

_REGISTRY: dict[str, TaskSpec] = {}  # the default (highest) version of every task
_OLDER: dict[tuple[str, int], TaskSpec] = {}  # pinned older versions, by (id, version)
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
    task, current = cls(), _REGISTRY.get(cls.id)
    if (cls.id, cls.version) in _OLDER or (current is not None and current.version == cls.version):
        raise ValueError(f"task {cls.id} version {cls.version} registered twice")
    if current is None or cls.version > current.version:
        if current is not None:
            _OLDER[(cls.id, current.version)] = current
        _REGISTRY[cls.id] = task
    else:
        _OLDER[(cls.id, cls.version)] = task
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


def task_versions(task_id: str) -> list[int]:
    """Every registered version of a task, ascending (the last is the default)."""
    t = get_task(task_id)
    return sorted([v for i, v in _OLDER if i == t.id] + [t.version])


def get_task(key: str) -> TaskSpec:
    """Look a task up by id ('I-01'), slug ('global-max') or lowercase id; 'I-03@1' pins version 1."""
    _load()
    name, sep, version = key.strip().partition("@")
    k = name.strip()
    for t in _REGISTRY.values():
        if k.upper() == t.id or k.lower() == t.slug:
            break
    else:
        known = ", ".join(t.id for t in all_tasks())
        raise UnknownTaskError(f"unknown task {key!r}; known tasks: {known}")
    if not sep:
        return t
    v = version.strip().lstrip("vV")
    if v.isdigit() and int(v) == t.version:
        return t
    if v.isdigit() and (t.id, int(v)) in _OLDER:
        return _OLDER[(t.id, int(v))]
    known = ", ".join(f"{t.id}@{n}" for n in task_versions(t.id))
    raise UnknownTaskError(f"unknown task version {key!r}; versions of {t.id}: {known}")
