"""A cache of values derived from texts, bounded by the characters of the texts it keeps (least recently asked
dropped first), for the scorer's per-text readings (silo.evidence_text's parse, silo.credit's number spans and
views): a flood at N = 1,000 carries ~10^8 characters of distinct text, and each reading costs ~15-30 bytes per
character of its text, so kept whole they were gigabytes. Each value is a pure function of its key: a value
dropped is made again, the same, when asked for again."""

from __future__ import annotations

from collections import OrderedDict

_MISS = object()


class SizedCache:
    """key -> value, each entry weighing the characters given when it was put; kept up to `limit` in all (at least
    the last entry put, however heavy)."""

    __slots__ = ("limit", "chars", "_d")

    def __init__(self, limit: int):
        self.limit = limit
        self.chars = 0
        self._d: OrderedDict = OrderedDict()

    def get(self, key, default=None):
        got = self._d.get(key, _MISS)
        if got is _MISS:
            return default
        self._d.move_to_end(key)
        return got[1]

    def put(self, key, value, chars: int):
        """Keep value under key (a key put again replaces its entry); returns value."""
        old = self._d.pop(key, None)
        if old is not None:
            self.chars -= old[0]
        self._d[key] = (chars, value)
        self.chars += chars
        while self.chars > self.limit and len(self._d) > 1:
            self.chars -= self._d.popitem(last=False)[1][0]
        return value

    def __len__(self) -> int:
        return len(self._d)

    def __iter__(self):
        return iter(self._d)

    def clear(self) -> None:
        self._d.clear()
        self.chars = 0
