"""episode_io.read_scored against its definition, on good files and on bad ones.

The definition (`_reference` below, the reader of 4c6bab9 written out):
decompress the whole file with the gzip module, take the record line and the event lines, keep a line
whose first `"kind":"` names a kind asked for, validate each kept line by itself as a ScoredEvent. The
fast reader must give the same Episode on every file the definition reads, and raise the same error
(type and text) on every file it refuses: lines damaged inside files whose CRCs are intact (a hostile
or buggy writer), lines joined or cut, files cut short, padded, or of another shape.
"""

import gzip
import io
import json
import random
import re
import zlib

import pytest
from click.testing import CliRunner

from silo import episode_io, event_lines, record_line
from silo.cli import main
from silo.records import Episode, Event, ScoredEvent
from silo.scoring import SCORED_KINDS

SWEEP = ["run", "--team", "oracle", "--task", "I-01,II-11", "--n", "3", "--protocol", "p2p,sfs",
         "--no-progress", "--no-preflight"]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    out = tmp_path_factory.mktemp("read_scored") / "r"
    res = CliRunner().invoke(main, [*SWEEP, "-o", str(out)])
    assert res.exit_code == 0, res.output
    files = episode_io.files(out / "episodes")
    assert len(files) == 4
    return files


def _reference(path, kinds):
    """What read_scored must return or raise: every kept line validated by itself."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as e:
        raise episode_io.EpisodeFileError(f"{path.name}: cut short or damaged ({e})") from None
    head, _, rest = raw.partition(b"\n")
    record, _, lines = rest.partition(b"\n")
    try:
        m = json.loads(head)
    except ValueError:
        m = None
    if not isinstance(m, dict) or m.get("format") != episode_io.FORMAT or m.get("format_version") != 1 \
            or not record.startswith(b"{"):
        raise episode_io.EpisodeFileError(f"{path.name}: not a silo episode file")
    d = record_line.loads(record)
    if not isinstance(d, dict):
        raise episode_io.EpisodeFileError(f"{path.name}: no episode record")
    d["events"] = []
    ep = Episode.model_validate(d)
    want = {k.encode() for k in kinds}
    kept = []
    for line in lines.split(b"\n"):
        i = line.find(b'"kind":"')
        if i >= 0 and line[i + 8:line.find(b'"', i + 8)] in want:
            kept.append(line)
    ep.events = [ScoredEvent.model_validate_json(x) for x in kept]
    return ep


def _outcome(fn, *args):
    try:
        ep = fn(*args)
    except Exception as e:  # the type and text are what is compared
        return ("raised", type(e).__name__, str(e))
    return ("read", ep.model_dump_json(), [(type(e).__name__, sorted(e.model_fields_set)) for e in ep.events])


def _same(path, kinds=SCORED_KINDS):
    want = _outcome(_reference, path, kinds)
    assert _outcome(episode_io.read_scored, path, kinds) == want
    return want


def _lines(path) -> list[bytes]:
    """The record line and the event lines of a file (the meta line left out)."""
    return gzip.decompress(path.read_bytes()).split(b"\n")[1:]


def _write(path, body_lines: list[bytes], meta: dict | None = None):
    """A file of these lines whose CRCs and lengths are all intact (what a hostile writer can make)."""
    body = b"\n".join(body_lines)
    member = gzip.compress(body, 1)
    m = meta or {"format": episode_io.FORMAT, "format_version": 1, "id": "x", "status": "complete",
                 "events": len(body_lines) - 1, "crc32": zlib.crc32(body), "size": len(body),
                 "zcrc32": zlib.crc32(member)}
    path.write_bytes(gzip.compress(json.dumps(m).encode() + b"\n", 1) + member)
    return path


def test_good_files_read_as_their_definition_and_as_read(episodes):
    for f in episodes:
        got = episode_io.read_scored(f, SCORED_KINDS)
        assert _same(f)[0] == "read" and got.events
        full = episode_io.read(f)
        want = [e for e in full.events if e.kind in SCORED_KINDS]
        assert [e.model_dump() for e in got.events] == [e.model_dump(exclude={"args", "result", "data"}) for e in want]
        assert got.model_dump(exclude={"events"}) == full.model_dump(exclude={"events"})
        assert all(type(e) is ScoredEvent for e in got.events)
        for kinds in (frozenset({"send"}), frozenset({"submit", "nothing"}), frozenset()):
            _same(f, kinds)


def _events_of(f, kind):
    lines = _lines(f)
    return lines, [i for i, x in enumerate(lines) if b'"kind":"' + kind + b'"' in x]


def _kept(line: bytes, kinds=SCORED_KINDS) -> bool:
    i = line.find(b'"kind":"')
    return i >= 0 and line[i + 8:line.find(b'"', i + 8)].decode() in kinds


BAD_VALUES = [(b'"round":', b'"round":"one","x":'), (b'"agent":', b'"agent":[],"x":'),
              (b'"kind":"send"', b'"kind":"send","kind":"sned"'), (b'"chars":', b'"chars":1.5,"x":'),
              (b'"to":[', b'"to":["x",'), (b'"round":', b'"round":1e400,"x":'), (b'"msg_ids":[', b'"msg_ids":[null,')]


@pytest.mark.parametrize("old,new", BAD_VALUES, ids=lambda v: v.decode()[:14])
def test_a_kept_line_of_the_wrong_type_is_refused_with_its_own_error(episodes, tmp_path, old, new):
    """If the events were built without validation, these files would read; they must raise pydantic's error."""
    for f in episodes:
        lines = _lines(f)
        hits = [i for i, x in enumerate(lines) if i and old in x and _kept(x)]
        if hits:
            break
    else:
        pytest.fail(f"no kept line holds {old!r}")
    i = hits[len(hits) // 2]
    lines[i] = lines[i].replace(old, new, 1)
    out = _same(_write(tmp_path / f.name, lines))
    assert out[0] == "raised" and "validation error for ScoredEvent" in out[2], out


def _round(line: bytes, value: bytes) -> bytes:
    return re.sub(rb'"round":-?[0-9]+', b'"round":' + value, line, count=1)


def test_lines_joined_cut_or_doubled_are_judged_one_line_at_a_time(episodes, tmp_path):
    f = episodes[0]
    lines, sends = _events_of(f, b"send")
    _, delivers = _events_of(f, b"deliver")
    a, b = sends[0], delivers[0]
    cases = {
        "two events on one line": lines[:a] + [lines[a] + b"," + lines[a]] + lines[a + 1:],
        "two events with no comma": lines[:a] + [lines[a] + lines[a]] + lines[a + 1:],
        "a line cut in two": lines[:a] + [lines[a][:20], lines[a][20:]] + lines[a + 1:],
        "a line cut short": lines[:a] + [lines[a][:-1]] + lines[a + 1:],
        "a bare value": lines[:a] + [b'"kind":"send"'] + lines[a:],
        "an array of events": lines[:a] + [b"[" + lines[a] + b"]"] + lines[a + 1:],
        # a line that opens an object closed by a later line, and one holding two events: the counts of a
        # batch still match, but no line is one event by itself
        "joined across lines": lines[:b] + [lines[b][:-1] + b',"x":[{"kind":"send"', b'"kind":"send"}]}',
                                            lines[a] + b"," + lines[a]] + lines[b + 1:],
        "an object left open for the next line": lines + [b'{"round":1,"agent":0,"kind":"send","x":[[1',
                                                          b'{"round":1,"agent":1,"kind":"send"}]]}'],
        "blank and CR lines": lines[:a] + [b"", b"   ", lines[a] + b"\r", b"\r"] + lines[a:],
        "duplicate keys": lines[:a] + [lines[a][:-1] + b',"round":0}'] + lines[a + 1:],
        "a skipped kind that is not JSON": lines[:a] + [b'{"round":1,"kind":"note",{{{'] + lines[a:],
        "a kind named late": lines[:a] + [b'{"content":"\\"kind\\":\\"send\\"","round":1,"agent":0,"kind":"note"}']
                             + lines[a:],
        "kind without its closing quote": lines[:a] + [b'{"round":1,"agent":0,"kind":"sendX'] + lines[a:],
        "unicode and escapes": lines[:a] + [lines[a][:-1] + b',"content":"\\u00e9\\ud83d\\ude00 \xc3\xa9"}']
                               + lines[a:],
        "invalid utf-8": lines[:a] + [lines[a][:-1] + b',"content":"\xff"}'] + lines[a:],
        "the separator a batch might use": lines[:a] + [lines[a] + b",0,", b"0," + lines[a]] + lines[a + 1:],
        "a rest naming round again": lines[:a] + [lines[a], lines[a][:-1] + b',"round":"x"}'] + lines[a:],
        "a rest naming agent again, escaped": lines[:a] + [lines[a][:-1] + b',"\\u0061gent":7}'] * 2 + lines[a:],
        "a round of 21 digits": lines[:a] + [_round(lines[a], b"123456789012345678901")] + lines[a:],
        "a round of -0": lines[:a] + [_round(lines[a], b"-0")] * 2 + lines[a:],
        "a round with a leading zero": lines[:a] + [_round(lines[a], b"01")] + lines[a:],
        "a head with spaces": lines[:a] + [lines[a].replace(b'"round":', b'"round": ', 1)] + lines[a:],
        "a record that is not an Episode": [lines[0].replace(b'"status":"', b'"status":"nope","x":"', 1)] + lines[1:],
        "no events": lines[:1],
    }
    outcomes = {}
    for name, body in cases.items():
        outcomes[name] = _same(_write(tmp_path / f"{len(outcomes)}.jsonl.gz", body))[0]
    assert outcomes == {**{k: "raised" for k in cases}, "blank and CR lines": "read", "duplicate keys": "read",
                        "a skipped kind that is not JSON": "read", "a kind named late": "read",
                        "unicode and escapes": "read", "no events": "read",
                        "a rest naming agent again, escaped": "read", "a round of 21 digits": "read",
                        "a round of -0": "read", "a head with spaces": "read"}, outcomes


def test_random_damage_to_event_lines_is_judged_as_the_definition_judges_it(episodes, tmp_path):
    rng = random.Random(16)
    f = episodes[1]
    lines = _lines(f)
    outcomes = set()
    for case in range(120):
        body = list(lines)
        for _ in range(rng.choice((1, 1, 2, 3))):
            i = rng.randrange(1, len(body))
            x = body[i]
            j = rng.randrange(len(x) + 1)
            op = rng.randrange(4)
            if op == 0:
                body[i] = x[:j] + x[j + 1:]
            elif op == 1:
                body[i] = x[:j] + rng.choice([b",", b"}", b"]", b"{", b"[", b'"', b"\\", b"0", b"\n", b","]) + x[j:]
            elif op == 2 and i + 1 < len(body):
                body[i:i + 2] = [x + rng.choice([b"", b","]) + body[i + 1]]
            else:
                body.insert(i, x)
        outcomes.add(_same(_write(tmp_path / f"{case}.jsonl.gz", body))[0])
    assert outcomes == {"read", "raised"}


def test_damaged_and_odd_gzip_files_give_the_errors_they_always_gave(episodes, tmp_path):
    data = episodes[2].read_bytes()
    first = len(gzip.compress(b""))  # where the second member can start at the earliest
    head_len = data.index(b"\x1f\x8b", first)
    raw = gzip.decompress(data)
    cases = {"cut short": data[:-20], "cut in the meta": data[:head_len - 5], "empty": b"", "not gzip": b"{}\n",
             "a byte flipped": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:],
             "trailer wrong": data[:-8] + b"\0" * 8, "zero padding after": data + b"\0" * 16,
             "zero padding between": data[:head_len] + b"\0" * 4 + data[head_len:], "garbage after": data + b"xyz",
             "one member": gzip.compress(raw), "three members": data[:head_len] + gzip.compress(b"") + data[head_len:],
             "a member split": data[:head_len] + gzip.compress(raw[raw.index(b"\n") + 1:][:50])
             + gzip.compress(raw[raw.index(b"\n") + 1:][50:]),
             "the meta of two lines": gzip.compress(raw[:raw.index(b"\n") + 1] + b"{}\n") + data[head_len:],
             "the meta not ending its member": gzip.compress(raw[:raw.index(b"\n")]) + gzip.compress(b"\n")
             + data[head_len:],
             "another format": _write(tmp_path / "m.jsonl.gz", _lines(episodes[2]), {"format": "x"}).read_bytes()}
    got = {}
    for name, blob in cases.items():
        p = tmp_path / f"{len(got)}-{episodes[2].name}"
        p.write_bytes(blob)
        got[name] = _same(p)[0]
    assert got == {**{k: "raised" for k in cases}, "zero padding after": "read", "zero padding between": "read",
                   "one member": "read", "three members": "read", "a member split": "read",
                   "the meta not ending its member": "read"}, got


def test_old_json_files_still_read_as_read_with_kinds(episodes, tmp_path):
    from pathlib import Path

    llm_run = Path(__file__).parent / "data" / "llm_run" / "episodes"
    mine = tmp_path / f"{episode_io.episode_id(episodes[0])}.json"
    mine.write_text(episode_io.read(episodes[0]).model_dump_json(exclude_none=True))
    for f in [*llm_run.iterdir(), mine]:
        got = episode_io.read_scored(f, SCORED_KINDS)
        want = episode_io.read(f, SCORED_KINDS)
        assert got == want and got.events and all(type(e) is Event for e in got.events)


def test_reading_leaves_the_garbage_collector_as_it_found_it(episodes, tmp_path):
    import gc

    bad = _write(tmp_path / episodes[0].name, [*_lines(episodes[0]), b'{"round":"x","agent":0,"kind":"send"}'])
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            episode_io.read_scored(episodes[0], SCORED_KINDS)
            with pytest.raises(ValueError):
                episode_io.read_scored(bad, SCORED_KINDS)
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def _members(path):
    data = path.read_bytes()
    d = zlib.decompressobj(31)
    head = d.decompress(data)
    return json.loads(head), d.unused_data


def _file(path, meta, body):
    path.write_bytes(gzip.compress(json.dumps(meta).encode() + b"\n", 1) + body)
    return path


def _named(text: bytes) -> bytes:
    """A gzip member of the text whose header holds a file name."""
    buf = io.BytesIO()
    with gzip.GzipFile("x.jsonl", "wb", 1, buf, mtime=0) as fh:
        fh.write(text)
    return buf.getvalue()


def test_a_meta_line_that_does_not_describe_its_body_is_read_as_gzip_reads_it(episodes, tmp_path):
    """The second member is inflated without recomputing its CRC only when the meta's zcrc32, size and crc32 all
    describe it; any mismatch takes the gzip path (the definition's outcome: it ignores the meta's numbers)."""
    m, body = _members(episodes[3])
    named = _named(gzip.decompress(body))
    cases = {"size wrong": ({**m, "size": m["size"] + 1}, body), "crc32 wrong": ({**m, "crc32": m["crc32"] ^ 1}, body),
             "zcrc32 wrong": ({**m, "zcrc32": m["zcrc32"] ^ 1}, body), "zcrc32 missing": (
                 {k: v for k, v in m.items() if k != "zcrc32"}, body), "size a string": ({**m, "size": "1"}, body),
             "a member with a file name": ({**m, "zcrc32": zlib.crc32(named)}, named),
             "a byte flipped in the body": (m, body[:40] + bytes([body[40] ^ 1]) + body[41:]),
             "the body cut short": (m, body[:-3])}
    got = {name: _same(_file(tmp_path / f"{i}.jsonl.gz", meta, b))[0]
           for i, (name, (meta, b)) in enumerate(cases.items())}
    assert got == {**{k: "read" for k in cases}, "a byte flipped in the body": "raised", "the body cut short": "raised"}


def test_a_body_whose_gzip_crc_alone_is_wrong_reads_by_the_crc_of_its_bytes(episodes, tmp_path):
    """The one file judged differently from gzip: a body whose trailer CRC does not match its text but whose bytes
    match the zcrc32 (and crc32, size) of its meta line, which only a writer computing them over the broken
    member makes (damage to the bytes changes their CRC-32: the test above). It reads as the text its
    deflate stream holds, what the same writer could have written with a right trailer."""
    m, body = _members(episodes[3])
    text = gzip.decompress(body)
    broken = body[:-8] + (zlib.crc32(text) ^ 1).to_bytes(4, "little") + body[-4:]
    p = _file(tmp_path / "b.jsonl.gz", {**m, "crc32": zlib.crc32(text) ^ 1, "zcrc32": zlib.crc32(broken)}, broken)
    assert _outcome(_reference, p, SCORED_KINDS)[0] == "raised"
    assert episode_io.read_scored(p, SCORED_KINDS) == episode_io.read_scored(episodes[3], SCORED_KINDS)


@pytest.fixture(scope="module")
def matrix_episode(tmp_path_factory):
    """An episode whose answers are long matrices of integers (III-30 at N = 10: 10 x 10 products)."""
    out = tmp_path_factory.mktemp("matrix") / "r"
    res = CliRunner().invoke(main, ["run", "--team", "oracle", "--task", "III-30", "--n", "10", "--protocol", "p2p",
                                    "--no-progress", "--no-preflight", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return episode_io.files(out / "episodes")[0]


def test_submits_of_long_answers_read_as_their_definition_good_or_bad(matrix_episode, tmp_path):
    """A submit whose answer is its agent's long truth is validated without its args (event_lines.validated):
    the same events, and on a bad line the line's own error."""
    lines = _lines(matrix_episode)
    _same(matrix_episode)
    assert len(event_lines._long[1]) == 10  # every agent's truth is long: the lean path was taken
    _, subs = _events_of(matrix_episode, b"submit")
    a = subs[0]
    x = lines[a]
    cases = {"chars not a number": x.replace(b'"chars":', b'"chars":"x","y":'),
             "args with more after the answer": x.replace(b']]},', b']],"z":1},'),
             "an answer cut short": x.replace(b']]},', b']},'),
             "an answer with one more bracket": x.replace(b']]},', b']]]},'),
             "the line cut short": x[:-2], "a round with a leading zero": _round(x, b"01"),
             "another agent's submit": re.sub(rb'"agent":\d+', b'"agent":3', x, count=1),
             "an agent of 21 digits": re.sub(rb'"agent":\d+', b'"agent":123456789012345678901', x, count=1),
             "a field after data": x[:-1] + b',"round":"x"}', "kind again": x[:-1] + b',"kind":"nope"}'}
    got = {}
    for name, line in cases.items():
        got[name] = _same(_write(tmp_path / f"{len(got)}.jsonl.gz", lines[:a] + [line] + lines[a + 1:]))[0]
    assert got == {**{k: "raised" for k in cases}, "another agent's submit": "read", "an agent of 21 digits": "read",
                   "args with more after the answer": "read"}, got


def test_only_long_integer_texts_of_two_levels_at_most_are_taken_for_lean_submits():
    """long_answers: a number, a list or a matrix of integers (a depth pydantic's parser always reads), long."""
    deep = "[1," * 100 + "1" + "]" * 100  # 100 levels, not starting with "[[["
    texts = ["7" * 300, "[" + ",".join(["12"] * 150) + "]", "[" + ",".join(["[1,2,3]"] * 60) + "]", deep,
             "[" + ",".join(["1.5"] * 100) + "]", '["' + "a" * 300 + '"]', "[[[1]]]" + " " * 300, "[1,2]"]
    known = record_line.Known("", None, [(t, None) for t in texts])
    assert sorted(event_lines.long_answers(known)) == [0, 1, 2]
