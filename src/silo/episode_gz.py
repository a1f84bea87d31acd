"""Decompressing a whole .jsonl.gz episode file with every member checked (silo.episode_io's fast path).

A file of the shape silo writes (two members, the first one line: the meta) is inflated member by member by
zlib: the first with its CRC and length checked by zlib, the second (`body_of`) against the CRC-32 of its
compressed bytes that the meta holds. Any other shape, or any error or mismatch, goes to the gzip module, which
reads every shape it always read and raises what it always raised (episode_io turns that into its one-line
EpisodeFileError).
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib

_PLAIN = b"\x1f\x8b\x08\x00"  # a gzip member's header as zlib writes it: deflate, no flags (10 bytes in all)


def whole(data: bytes) -> tuple[bytes, bytes]:
    """(meta line, the text after it) of a .jsonl.gz file's bytes; raises EOFError, OSError or zlib.error (gzip's
    own) for a file cut short or damaged."""
    try:
        first = zlib.decompressobj(31)
        head = first.decompress(data)
        if first.eof and 0 < len(head) == head.find(b"\n") + 1:
            rest = body_of(head, first.unused_data)
            if rest is not None:
                return head[:-1], rest
            second = zlib.decompressobj(31)
            rest = second.decompress(first.unused_data)
            if second.eof and not second.unused_data:
                return head[:-1], rest
    except zlib.error:
        pass
    head, _, rest = gzip.decompress(data).partition(b"\n")
    return head, rest


def body_of(head: bytes, body: bytes) -> bytes | None:
    """The second member's text, where `body` is exactly the member the meta line `head` describes: the CRC-32 of
    its bytes is the meta's `zcrc32` (what `episode_io.status()` checks too: as strong a check of the bytes as
    gzip's CRC of the text they inflate to, for a 40th of the bytes' CRC work on the oracle grid) and it inflates
    whole to the meta's length, which the member's trailer gives as well; else None (the caller's zlib and gzip
    paths then judge the file as they always did)."""
    try:
        m = json.loads(head)
    except ValueError:
        return None
    if not isinstance(m, dict) or type(m.get("zcrc32")) is not int or type(m.get("size")) is not int \
            or type(m.get("crc32")) is not int or len(body) < 18 or not body.startswith(_PLAIN) \
            or zlib.crc32(body) != m["zcrc32"]:
        return None
    d = zlib.decompressobj(-15)  # raw deflate after the 10-byte header: the trailer's CRC is not recomputed
    text = d.decompress(memoryview(body)[10:])
    if not d.eof or len(d.unused_data) != 8 or struct.unpack("<II", d.unused_data) != (
            m["crc32"] % (1 << 32), len(text) % (1 << 32)) or len(text) != m["size"]:
        return None
    return text
