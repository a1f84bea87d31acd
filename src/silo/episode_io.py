"""Episode files: a compressed JSON Lines format that streams, and the single reader of old and new files.

    episodes/<id>.jsonl.gz   written by this version (docs/storage.md)
    episodes/<id>.json       one Episode JSON document (schema 1, written before); still read everywhere

A .jsonl.gz file is two gzip members. The first holds one line, the meta: the format, the episode id
and status, the event count, the CRC-32 and length of the second member's uncompressed bytes, and the
CRC-32 of its compressed bytes (`zcrc32`). The second holds the Episode record without its events (one
line), then one Event per line. `status()` decompresses only the meta, compares the CRC and length with
the gzip trailer (the file's last 8 bytes) and the compressed bytes with `zcrc32`, so listing a run is
cheap and a truncated or damaged file is still caught; `read()` checks everything.
Files are written whole to a temporary file and renamed, so a killed writer never leaves a partial one.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from silo import episode_gz, event_lines, record_line
from silo.records import Episode, Event, Instance, ScoredEvent
from silo.redact import redact
from silo.sanitize import clean

SUFFIX = ".jsonl.gz"
OLD_SUFFIX = ".json"
FORMAT = "silo.episode.jsonl"
FORMAT_VERSION = 1
LEVEL = 1  # gzip level, measured (docs/storage.md): 6 is 23% smaller but writes 3x slower
_CHUNK = 1 << 20  # characters of JSON Lines redacted and compressed at a time


class EpisodeFileError(ValueError):
    """An episode file that cannot be read: not gzip, cut short, or not this format."""


def episode_id(path: Path) -> str:
    """The episode id a file holds, from its name."""
    name = path.name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name.removesuffix(OLD_SUFFIX)


def files(directory: Path) -> list[Path]:
    """One file per episode id, sorted by id; where an id has both formats the new file wins (the old
    one is what a killed rewrite left behind)."""
    if not directory.is_dir():
        return []
    by_id: dict[str, Path] = {}
    for f in directory.iterdir():
        if f.name.startswith(".") or not (f.name.endswith(SUFFIX) or f.name.endswith(OLD_SUFFIX)):
            continue
        eid = episode_id(f)
        if eid not in by_id or f.name.endswith(SUFFIX):
            by_id[eid] = f
    return [by_id[k] for k in sorted(by_id)]


def path_for(directory: Path, eid: str) -> Path:
    return directory / f"{eid}{SUFFIX}"


# ---- writing ------------------------------------------------------------------------------------------
def _member(chunks: Iterator[bytes]) -> tuple[bytes, int, int]:
    """One gzip member of the UTF-8 chunks, each redacted: (bytes, CRC-32, uncompressed length)."""
    comp = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    out, crc, size = io.BytesIO(), 0, 0
    for chunk in chunks:
        text = chunk.decode("utf-8", errors="replace")
        masked = redact(text)
        raw = chunk if masked is text else masked.encode("utf-8", errors="replace")
        crc, size = zlib.crc32(raw, crc), size + len(raw)
        out.write(comp.compress(raw))
    out.write(comp.flush())
    return out.getvalue(), crc, size


def _lines(ep: Episode) -> Iterator[bytes]:
    """The record line, then one line per event, in chunks of about _CHUNK bytes."""
    dump = Event.__pydantic_serializer__.to_json  # what model_dump_json calls, without its str round trip
    buf = [ep.model_dump_json(exclude={"events"}, exclude_none=True).encode()]
    size = len(buf[0])
    for e in ep.events:
        line = dump(e, exclude_none=True)
        buf.append(line)
        size += len(line) + 1
        if size >= _CHUNK:
            yield b"\n".join(buf) + b"\n"
            buf, size = [], 0
    if buf:
        yield b"\n".join(buf) + b"\n"


def encode(ep: Episode) -> tuple[bytes, str]:
    """The episode as the bytes of a .jsonl.gz file, and the status written. Content that cannot be
    serialised is bounded first, and if even that fails the episode is recorded as an error (the record
    of one episode never sinks the run)."""
    try:
        return _encode(ep), ep.status
    except (ValueError, TypeError, RecursionError) as e:
        reason = str(e).splitlines()[0][:300]
    try:
        fixed = Episode.model_validate(clean(ep.model_dump(exclude_none=True)))
        return _encode(fixed), ep.status
    except (ValueError, TypeError, RecursionError):
        pass
    marked = Episode(id=ep.id, config=ep.config, instance=ep.instance, events=[], submissions=[], status="error",
                     error=f"the episode could not be recorded: {reason}", rounds=ep.rounds, usage=ep.usage)
    return _encode(marked), "error"


def _encode(ep: Episode) -> bytes:
    body, crc, size = _member(_lines(ep))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "id": ep.id, "status": ep.status,
            "events": len(ep.events), "crc32": crc, "size": size, "zcrc32": zlib.crc32(body)}
    head, _, _ = _member(iter([json.dumps(meta).encode() + b"\n"]))
    return head + body


def write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file (named with the writer's pid), fsync and rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write(directory: Path, ep: Episode) -> str:
    """Write one episode as <id>.jsonl.gz (an old <id>.json of the same id is removed after); returns the
    status written."""
    data, status = encode(ep)
    write_bytes(path_for(directory, ep.id), data)
    (directory / f"{ep.id}{OLD_SUFFIX}").unlink(missing_ok=True)
    return status


# ---- reading ------------------------------------------------------------------------------------------
def meta(path: Path) -> dict:
    """The meta line of a .jsonl.gz file, checked against the file's gzip trailer (cheap: reads the
    first member and the last 8 bytes)."""
    with open(path, "rb") as fh:
        d = zlib.decompressobj(31)
        text = b""
        while not d.eof:
            block = fh.read(4096)
            if not block:
                raise EpisodeFileError(f"{path.name}: cut short in its first line")
            try:
                text += d.decompress(block)
            except zlib.error as e:
                raise EpisodeFileError(f"{path.name}: not a gzip file ({e})") from None
            if len(text) > 1 << 20:
                raise EpisodeFileError(f"{path.name}: no meta line")
        try:
            m = json.loads(text)
        except ValueError:
            raise EpisodeFileError(f"{path.name}: unreadable meta line") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise EpisodeFileError(f"{path.name}: not a silo episode file")
        if m.get("format_version") != FORMAT_VERSION:
            raise EpisodeFileError(f"{path.name}: episode format version {m.get('format_version')} is not "
                                   f"{FORMAT_VERSION}; read it with the silo version that wrote it")
        body_at = fh.tell() - len(d.unused_data)  # where the second member (record and events) starts
        fh.seek(0, 2)
        if fh.tell() < 8:
            raise EpisodeFileError(f"{path.name}: cut short")
        fh.seek(-8, 2)
        crc, size = struct.unpack("<II", fh.read(8))
        if (crc, size) != (m.get("crc32"), (m.get("size") or 0) % (1 << 32)):
            raise EpisodeFileError(f"{path.name}: cut short or damaged (its end does not match its first line)")
        if "zcrc32" in m and _crc_from(fh, body_at) != m["zcrc32"]:
            # damage inside an intact-length file: caught from the compressed bytes, without decompressing
            raise EpisodeFileError(f"{path.name}: damaged (its bytes do not match its first line)")
    return m


def _crc_from(fh, offset: int) -> int:
    fh.seek(offset)
    crc = 0
    while block := fh.read(1 << 20):
        crc = zlib.crc32(block, crc)
    return crc


def status(path: Path) -> str:
    """The status of an episode file of either format; raises OSError/ValueError if it is unreadable."""
    if path.name.endswith(SUFFIX):
        s = meta(path).get("status")
    else:
        s = json.loads(path.read_bytes()).get("status")
    if not isinstance(s, str):
        raise EpisodeFileError(f"{path.name}: no status")
    return s


def _body(path: Path) -> Iterator[bytes]:
    """The record line then every event line of a .jsonl.gz file (gzip checks its CRC at the end)."""
    meta(path)
    try:
        with gzip.open(path, "rb") as fh:
            fh.readline()  # the meta line
            yield from fh
    except (EOFError, OSError, zlib.error) as e:
        raise EpisodeFileError(f"{path.name}: cut short or damaged ({e})") from None


def _decompressed(path: Path, data: bytes | None = None) -> tuple[bytes, bytes]:
    """(meta line, the text after it) of a .jsonl.gz file, decompressed whole, every member checked
    (silo.episode_gz)."""
    try:
        return episode_gz.whole(path.read_bytes() if data is None else data)
    except (EOFError, OSError, zlib.error) as e:
        raise EpisodeFileError(f"{path.name}: cut short or damaged ({e})") from None


def _check(path: Path, head: bytes, record: bytes) -> None:
    try:
        m = json.loads(head)
    except ValueError:
        m = None
    if not isinstance(m, dict) or m.get("format") != FORMAT or m.get("format_version") != FORMAT_VERSION \
            or not record.startswith(b"{"):
        raise EpisodeFileError(f"{path.name}: not a silo episode file")


def _split(path: Path) -> tuple[bytes, bytes, bytes]:
    """(meta line, record line, event lines) of a .jsonl.gz file, decompressed whole (every member's CRC
    and length checked, so a file cut short or damaged anywhere raises)."""
    head, rest = _decompressed(path)
    record, _, lines = rest.partition(b"\n")
    _check(path, head, record)
    return head, record, lines


def _record_and_lines(path: Path, data: bytes | None = None) -> tuple[bytes, list[bytes]]:
    """_split's record line, and its event lines as a list (one split of the text, no copy before it); of `data`,
    the file's bytes, where the caller has read them."""
    head, rest = _decompressed(path, data)
    lines = rest.split(b"\n")
    _check(path, head, lines[0])
    return lines.pop(0), lines


def read(path: Path, kinds: frozenset[str] | None = None) -> Episode:
    """The Episode of a file of either format (raises OSError/ValueError if it is unreadable). With
    `kinds`, the Episode holds only the events of those kinds; a new file's other lines are skipped
    unparsed (what `silo report` reads: metrics.MESSAGE_KINDS)."""
    if not path.name.endswith(SUFFIX):
        if kinds is None:
            return Episode.model_validate_json(path.read_bytes())
        d = json.loads(path.read_bytes())
        if isinstance(d, dict) and isinstance(d.get("events"), list):
            d["events"] = [e for e in d["events"] if isinstance(e, dict) and e.get("kind") in kinds]
        return Episode.model_validate(d)
    if kinds is None:  # streamed, one event validated per line: the whole text is never held (the grid's
        # largest episode: peak RSS 215 MB, against 304 MB joining the lines into one JSON document)
        body = _body(path)
        record = next(body, None)
        if record is None or not record.startswith(b"{"):
            raise EpisodeFileError(f"{path.name}: no episode record")
        ep = Episode.model_validate_json(b'{"events":[],' + record[1:])
        ep.events = [Event.model_validate_json(line) for line in body]
        return ep
    record, lines = _record_and_lines(path)
    # the record: json.loads then validate (about half the peak memory of validate_json on a big
    # record); the events kept: each validated from its own line (pydantic's JSON parser, no dicts)
    d = json.loads(record)
    d["events"] = []
    ep = Episode.model_validate(d)
    ep.events = [Event.model_validate_json(x) for x in event_lines.keep(lines, kinds)]
    return ep


def read_scored(path: Path, kinds: frozenset[str], data: bytes | None = None,
                skip_empty_listings: bool = False) -> Episode:
    """What scoring reads of an episode file: the events of `kinds` only. A new file, its CRCs checked as it
    is decompressed, gives lean events (records.ScoredEvent: an event line's args, result and data are
    skipped unparsed) and a record whose equal truth entries and answers are one object (record_line); the
    record is validated as always (an instance of the same text as the previous file's is that file's validated
    Instance, the same object: read-only, as every episode scoring reads), and each event line kept as if by
    itself (silo.event_lines: the same objects, or the same error, as `ScoredEvent.model_validate_json(line)`
    line by line). An old <id>.json file is read in full, as read(path, kinds) does. `data`: the file's bytes,
    where the caller has read them already (score_jobs: the same bytes it stamps). `skip_empty_listings`:
    without the listings that found nothing (event_lines.EMPTY_LISTING; new files only), which scoring
    does not need."""
    if not path.name.endswith(SUFFIX):
        return read(path, kinds)
    with event_lines.gc_paused():
        return _read_scored(path, kinds, data, skip_empty_listings)


_check_scored = ScoredEvent.__pydantic_validator__.validate_json  # what model_validate_json calls, unwrapped
_last: list = [None]  # record_line.Known of the instance scoring read last, its value the validated Instance


def _read_scored(path: Path, kinds: frozenset[str], data: bytes | None, skip: bool = False) -> Episode:
    head, rest = _decompressed(path, data)
    end = rest.find(b"\n")  # the record line's end: the event lines follow (none without it)
    _check(path, head, rest[:1])  # the record's first byte (none if it is empty)
    d, seen = record_line.read(memoryview(rest)[:end] if end >= 0 else rest, _last[0])  # the record, not copied
    if not isinstance(d, dict):
        raise EpisodeFileError(f"{path.name}: no episode record")
    d["events"] = []
    ep = Episode.model_validate(d)
    if seen is not None and seen is not _last[0]:  # the next episode of this instance reuses it, validated
        _last[0] = seen._replace(value=ep.instance) if isinstance(ep.instance, Instance) else None
    # the lines kept found in the text (no bytes object per line), each validated by itself, no Python frame per line
    kept = event_lines.keep_after(rest, end, kinds, skip)
    long = event_lines.long_answers(seen)
    ep.events = event_lines.validated(kept, long) if long else list(map(_check_scored, kept))
    return ep


_kind = event_lines.kind_of  # an event line's kind, unparsed (silo.report_facts reads lines with it too)


def header(path: Path) -> dict:
    """The episode record without its events, as JSON values (new files: without reading the events)."""
    if not path.name.endswith(SUFFIX):
        d = json.loads(path.read_bytes())
        d.pop("events", None)
        return d
    record = next(_body(path), None)
    if record is None:
        raise EpisodeFileError(f"{path.name}: no episode record")
    return json.loads(record)


def events(path: Path) -> Iterator[Event]:
    """The events of an episode one at a time: a new file is never held whole in memory."""
    if not path.name.endswith(SUFFIX):
        yield from read(path).events
        return
    lines = _body(path)
    next(lines, None)
    for line in lines:
        yield Event.model_validate_json(line)


def load_dict(path: Path) -> dict:
    """The whole episode as JSON values (events included), for tools and tests that look at raw fields."""
    if not path.name.endswith(SUFFIX):
        return json.loads(path.read_bytes())
    lines = _body(path)
    d = json.loads(next(lines))
    return {**d, "events": [json.loads(line) for line in lines]}


def text(path: Path) -> str:
    """The file's JSON text as stored (decompressed for a new file): what a secret or size check reads."""
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.name.endswith(SUFFIX) else raw).decode("utf-8", "replace")
