"""The scorer's cache shared by every replay of one instance (silo.replay): what it derives from the task and
the instance alone, kept for the last few instances, valid only for an instance of identical content."""

from __future__ import annotations

import marshal
import threading
from collections import OrderedDict
from operator import attrgetter

from silo.records import Instance
from silo.tasks.base import TaskSpec

SHARED = 2  # instances whose scorer caches are kept: a run's sorted files put an instance's episodes together
_shared: OrderedDict[tuple, tuple[bytes, dict]] = OrderedDict()
_shared_lock = threading.Lock()


def shared_cache(task: TaskSpec, inst: Instance) -> dict:
    """The cache of what the scorer derives from (task, instance) alone (fingerprints, views of content,
    candidate sets, credit of content: every entry a pure function of the task, the instance and the entry's
    key), one dict for every replay of an equal instance: the grid scores each instance under 3 protocols,
    grid7 by 7 teams too. Keyed by the task object and the instance id, and valid only while the instance's
    whole content, marshalled, is the same (marshal tells 1, 1.0 and True apart, and dict orders), so another
    instance reusing an id (an edited file, a hand-made test instance) gets a cache of its own."""
    try:
        content = marshal.dumps(_content_of(inst), 2)  # (kept and compared whole: a memcmp, no digest made of it)
    except ValueError:  # nested too deeply for marshal: this replay's own cache
        return {}
    key = (task, inst.id)
    with _shared_lock:
        got = _shared.get(key)
        if got is None or got[0] != content:
            got = _shared[key] = (content, {})
        _shared.move_to_end(key)
        while len(_shared) > SHARED:
            _shared.popitem(last=False)
    return got[1]


def _content_of(inst: Instance) -> tuple:
    """Every field of the instance; the truth as its distinct objects and each agent's index among them (a
    global answer is one object N times: marshalled once, not N times; equal tuples, equal truths). Read with
    attrgetters (C loops; the same tuples as a loop over the fields and shards gives)."""
    fields = _FIELDS.get(type(inst))
    if fields is None:
        fields = _FIELDS[type(inst)] = attrgetter(*(f for f in type(inst).model_fields if f not in ("shards", "truth")))
    uniq = {id(t): t for t in inst.truth}  # (the ids of objects the instance holds: alive while this runs)
    index = {k: n for n, k in enumerate(uniq)}
    return (fields(inst), tuple(map(_SHARD, inst.shards)), tuple(uniq.values()),
            tuple(map(index.__getitem__, map(id, inst.truth))))


_FIELDS: dict[type, attrgetter] = {}  # (per Instance class: its fields but shards and truth, as one attrgetter)
_SHARD = attrgetter("agent", "data", "text")
