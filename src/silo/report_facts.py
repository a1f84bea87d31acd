"""What the report tables keep of each episode (its facts), read without validating whole episodes, and
a sidecar file in the run directory so that the next report of the same run decompresses none of them.

The facts of an episode: its id, task and N, the per-link sums of its message grain (sender, receiver,
rows, characters), the sends to departed agents per agent, and every agent's answer and truth shortened
for the agent table. They come from the same functions as always (links.link_array_of: link_counts as an array,
departed.departed_sends) applied to a light copy of the episode: the JSON of its record and of its
send/write/read events, without building pydantic records (the grid's largest record, III-30 at
N = 100, is a 10 MB line of matrices).

The sidecar RUN/.report-facts.json.gz maps each episode file's name to its size, its CRC-32 and its
facts: an episode file rewritten (resumed, re-run, merged) no longer matches and is read again; the
source of the code that derives facts is part of the sidecar's key, so a change to it invalidates every
line. A run directory that cannot be written to only misses the speed-up. Scoring writes it too
(score_jobs.score_run, from the episodes it has read anyway: `entry`, `line`, `Sidecar`), so the first
report after `silo run`, `silo score` or `silo resume` decompresses no episode file either.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import logging
import os
import zlib
from collections.abc import Iterator
from functools import cache
from itertools import compress
from operator import attrgetter
from pathlib import Path

from silo import departed, episode_io

log = logging.getLogger(__name__)
SIDECAR = ".report-facts.json.gz"
FORMAT = "silo.report-facts"
_kind = attrgetter("kind")
_WANT = {b"send", b"write", b"read"}  # links.MESSAGE_KINDS (a test checks), without importing links here


def short(x, limit: int = 60) -> str:
    """json.dumps(x) cut to `limit` characters (the last three '...' when cut), encoding only the first
    `limit` items of every list and object: the encoding of those is the same text as the whole value's
    for more than `limit` characters (each item takes at least two of them with its comma), so the cut
    is the same."""
    s = json.dumps(_head(x, limit), separators=(",", ":"))
    return s if len(s) <= limit else s[:limit - 3] + "..."


def _head(x, k: int):
    if isinstance(x, list):
        return [_head(v, k) for v in x[:k]] if len(x) > k or any(isinstance(v, list | dict) for v in x) else x
    if isinstance(x, dict):
        items = list(x.items())[:k] if len(x) > k else x.items()
        return {a: _head(v, k) for a, v in items}
    return x


def facts_of(ep) -> dict:
    """The facts of an Episode (or of a light copy with the same attributes)."""
    from silo import links  # here, not at the top: imports numpy, which only the facts need

    cut: dict[int, str] = {}  # short() of each object once: scoring's record shares equal answers and truths

    def once(x) -> str:
        if id(x) not in cut:
            cut[id(x)] = short(x)
        return cut[id(x)]

    # both read only the message events: picked out without a Python step per event (kind tested in C)
    msgs = _Obj({"instance": ep.instance, "submissions": ep.submissions, "events": list(compress(
        ep.events, map(links.MESSAGE_KINDS.__contains__, map(_kind, ep.events))))})
    return {"id": ep.id, "task": ep.instance.task, "n": ep.instance.n_agents, "links": links.link_array_of(msgs),
            "gone": list(departed.departed_sends(msgs).items()),
            "answers": list({x.agent: once(x.answer) for x in ep.submissions}.items()),
            "truth": [once(t) for t in ep.instance.truth]}


class _Obj:
    """Attribute access to a JSON object, with the record's defaults for fields written only when set."""

    def __init__(self, d: dict, **defaults):
        self.__dict__ = defaults | d


def _light(record: dict, lines: bytes) -> _Obj:
    """An episode of JSON values with the attributes link_array_of, departed_sends and facts_of read: of its
    send/write/read events only the fields those read (content and arguments are let go line by line)."""
    events, chunk, size = [], [], 0

    def parse():  # one parse per ~64 kB of lines, not one per line; their content is let go at once
        events.extend(_Obj({"round": e["round"], "agent": e["agent"], "kind": e["kind"], "to": e.get("to"),
                            "sender": e.get("sender"), "chars": e.get("chars", 0)})
                      for e in json.loads(b"[" + b",".join(chunk) + b"]"))
        chunk.clear()

    for x in lines.split(b"\n"):
        if episode_io._kind(x) in _WANT:
            chunk.append(x)
            size += len(x)
            if size > 1 << 16:
                parse()
                size = 0
    parse()
    return _Obj({"id": record["id"], "instance": _Obj(record["instance"]),
                 "submissions": [_Obj(s, answer=None) for s in record["submissions"]], "events": events})


def read_facts(path: Path) -> dict:
    """The facts of one episode file of either format (raises OSError/ValueError if it is unreadable)."""
    if not path.name.endswith(episode_io.SUFFIX):
        return facts_of(episode_io.read(path, frozenset(k.decode() for k in _WANT)))
    _, record, lines = episode_io._split(path)  # the one reader of the format: checks every CRC and length
    try:
        return facts_of(_light(json.loads(record), lines))
    except (KeyError, TypeError, AttributeError) as e:
        raise episode_io.EpisodeFileError(f"{path.name}: not an episode record ({type(e).__name__}: {e})") from None


@cache
def _code_key() -> str:
    """The sidecar's key: a digest of the code that derives facts (this module, links, departed, and the
    readers of episode files: the report's own and scoring's, episode_gz, event_lines, record_line and records)."""
    h = hashlib.sha1(FORMAT.encode())
    readers = ("links", "departed", "episode_io", "episode_gz", "event_lines", "record_line", "records")
    for name in readers:  # the files, not imported
        h.update(Path(importlib.util.find_spec(f"silo.{name}").origin).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def stamp(path: Path, raw: bytes | None = None) -> list[int]:
    """What the sidecar keys an episode file's facts by: its size and the CRC-32 of its bytes (`raw`, where the
    caller has read them)."""
    raw = path.read_bytes() if raw is None else raw
    return [len(raw), zlib.crc32(raw)]


def entry(file_stamp: list[int], ep) -> list | None:
    """The sidecar entry [size, CRC-32, packed facts] of an episode scoring has read (read_scored: its record and
    its send/write/read events among others), or None when its facts cannot be derived: the report then reads
    the file itself and warns as it always did. Take the stamp *before* reading the episode: a file rewritten in
    between then no longer matches its entry and is read again."""
    try:
        return [*file_stamp, _pack(facts_of(ep))]
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError):
        return None


def line(entry: list) -> str:
    """An entry() as the JSON text of its sidecar line (what Sidecar.add writes of it): made where the entry is,
    in a scoring worker, so that the parent only compresses the texts."""
    return json.dumps(entry, separators=(",", ":"))


class Sidecar:
    """directory/SIDECAR written from scoring's entries as they come (add: an episode file's name and line(entry())),
    in any order (the report looks entries up by name), compressed meanwhile: `silo score` then only closes the
    file once its last episode is scored. Opened at the first entry (after the scoring workers are forked: none
    holds it). Nothing replaces the sidecar unless commit() is called; a directory that cannot be written to only
    misses the speed-up (the run's first report then reads the episodes)."""

    def __init__(self, directory: Path):
        self.path = directory / SIDECAR
        self.tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        self.count, self.fh, self.over = 0, None, False  # over: committed, let go or failed

    def add(self, name: str, text: str) -> None:
        self._write(("," if self.count else "") + json.dumps(name) + ":" + text + "\n")
        self.count += 1

    def commit(self) -> None:
        self._write("}}\n")
        if not self.over:
            try:
                self.fh.close()
                os.replace(self.tmp, self.path)
                self.over = True
            except OSError as e:
                self._fail(e)

    def abort(self) -> None:
        """Let the file go (scoring failed): the temporary file removed, the old sidecar left as it was."""
        if not self.over:
            self.over = True
            try:
                if self.fh is not None:
                    self.fh.close()
            except OSError:
                pass
            self.tmp.unlink(missing_ok=True)

    def _write(self, text: str) -> None:
        if self.over:
            return
        try:
            if self.fh is None:
                self.fh = gzip.open(self.tmp, "wt", compresslevel=1)
                self.fh.write(json.dumps({"format": FORMAT, "key": _code_key()})[:-1] + ',"files":{')
            self.fh.write(text)
        except OSError as e:
            self._fail(e)

    def _fail(self, e: OSError) -> None:  # a read-only run directory: the next report reads the episodes again
        log.debug("report facts not cached in %s: %s", self.path, e)
        self.abort()


def _load_sidecar(path: Path, key: str) -> dict:
    try:
        d = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, EOFError, ValueError, zlib.error):
        return {}
    return d.get("files", {}) if isinstance(d, dict) and d.get("key") == key else {}


def _save_sidecar(directory: Path, files: dict) -> None:
    """Write the sidecar from entries [size, CRC-32, packed facts or None, facts], in their order."""
    side = Sidecar(directory)
    for name, (size, crc, packed, facts) in files.items():
        side.add(name, line([size, crc, packed or _pack(facts)]))
    side.commit()


_NARROW = "i4:"  # a link array's base64 of little-endian int32 bytes (writes' receiver: the int32 minimum)


_LOW, _HIGH = -(1 << 31), (1 << 31) - 1  # int32's extremes: _LOW stands for NONE in a narrow array


def _pack(facts: dict) -> dict:
    """Facts as JSON values: the link array as base64 of its little-endian bytes, int32 where every value fits
    (prefixed _NARROW: half the text for the report to decode) else int64. Every value fits when all but the
    receivers NONE (writes') lie in (_LOW, _HIGH] (an int32 _LOW itself would read back as NONE)."""
    import numpy as np

    from silo.links import NONE

    a = np.ascontiguousarray(facts["links"], "<i8")
    fits, writes = True, None
    if a.size and a.max() > _HIGH:
        fits = False
    elif a.size and a.min() <= _LOW:  # the writes' NONE, or a value too low
        writes = a[1] == NONE
        fits = np.count_nonzero(a <= _LOW) == np.count_nonzero(writes)  # nothing else that low
    if not fits:
        return facts | {"links": base64.b64encode(a.tobytes()).decode()}
    narrow = a.astype("<i4")
    if writes is not None:
        narrow[1][writes] = _LOW
    return facts | {"links": _NARROW + base64.b64encode(narrow.tobytes()).decode()}


def _unpack(d: dict) -> dict:
    import numpy as np

    from silo.links import NONE

    text = d["links"]
    if not text.startswith(_NARROW):
        return d | {"links": np.frombuffer(base64.b64decode(text), "<i8").reshape(4, -1)}
    a = np.frombuffer(base64.b64decode(text[len(_NARROW):]), "<i4").astype(np.int64).reshape(4, -1)
    a[1][a[1] == np.iinfo(np.int32).min] = NONE
    return d | {"links": a}


def run_facts(directory: Path, files: list[Path], cache: bool = True) -> Iterator[dict]:
    """The facts of every readable episode file, in the given order; an unreadable file is skipped with a
    warning (as RunDir.episodes does). With `cache`, facts are kept in and read from directory/SIDECAR."""
    side = directory / SIDECAR
    key = _code_key() if cache else ""
    known = _load_sidecar(side, key) if cache else {}
    fresh: dict[str, list] = {}
    changed = len(known) != len(files)
    for f in files:
        try:
            raw = f.read_bytes()
            stamp = [len(raw), zlib.crc32(raw)]
            del raw
            hit = known.get(f.name)
            if hit and hit[:2] == stamp:
                packed = hit[2]
                facts = _unpack(packed)
            else:
                facts, packed, changed = read_facts(f), None, True  # packed when the sidecar is written
        except (OSError, ValueError) as e:
            log.warning("unreadable episode file %s skipped (%s); `silo resume` re-runs it",
                        f, str(e).splitlines()[0][:200])
            changed = True
            continue
        fresh[f.name] = [*stamp, packed, facts]
        yield facts
    if cache and (changed or fresh.keys() != known.keys()):
        _save_sidecar(directory, fresh)
