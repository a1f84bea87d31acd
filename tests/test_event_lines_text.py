"""event_lines.keep and keep_after (the lines kept found in the whole text, in one pass) against their
definition, written with kind_of and split in Python: a line is kept when the text after its first
`"kind":"` up to the next quote is a kind asked for, and, when empty listings are skipped, EMPTY_LISTING
does not match it (the pattern itself is checked against parsed events in test_skip_empty_listings.py).
Lines are built from the pieces that matter to the patterns: kind names, quotes, backslashes, newlines,
an empty listing's text and near misses of it, and lines that start as the engine writes them (event_lines._HEAD)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from silo import event_lines
from silo.scoring import SCORED_KINDS

EMPTY = (b'{"round":3,"agent":1,"kind":"list","action":"list_files","args":{"prefix":"mail/1/"},"result":[],'
         b'"versions":[],"chars":0,"data":{}}')
PIECES = [b'"kind":"', b'"', b"\\", b"\\\\", b'\\"', b"\n", b"\r", b",", b"{", b"}", b"list", b"send", b"wait",
          b"-", b"1", b'{"round":-1,"agent":0,', b'{"round":1,"agent":-2,"kind":"', b"submit", b"sen", b"", b"x",
          b'{"round":1,"agent":0,', b'"kind"', b"kind", b":", b"\x00", b"\xff",
          b'{"round":12,"agent":3,"kind":"', b'{"round":0,"agent":0,"kind":"list",',
          b'{"round":1,"agent":0,"kind":"send"',
          EMPTY, EMPTY[:60], EMPTY[60:], b'"prefix":"a\\"b"', b'"prefix":"a\\\nb"', b"list_entries", b"[]", b"0"]
KIND_SETS = [SCORED_KINDS, frozenset({"send"}), frozenset({"list", "submit"}), frozenset({"sen", "send"}),
             frozenset({"list"}), frozenset(), frozenset({""}), frozenset({'a"b', "send"})]


def _definition(lines, kinds, skip):
    want = {k.encode() for k in kinds}
    out = []
    for x in lines:
        i = x.find(b'"kind":"')
        if i >= 0 and x[i + 8:x.find(b'"', i + 8)] in want and not (skip and "list" in kinds and
                                                                    event_lines.EMPTY_LISTING(x)):
            out.append(x)
    return out


line = st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join)
text = st.lists(st.one_of(line, st.sampled_from([EMPTY, EMPTY.replace(b"list_files", b"list_entries"),
                                                  EMPTY + b" ", EMPTY.replace(b'"mail/1/"', b'"a\\\\"'),
                                                  EMPTY.replace(b"0,", b"0\n,"), EMPTY.replace(b":3,", b":-3,"),
                                                  EMPTY.replace(b":1,", b":-1,")])), max_size=12)


@settings(max_examples=200, deadline=None)
@given(text, st.sampled_from(KIND_SETS), st.booleans(), st.sampled_from([b"", b"{}", b'{"kind":"send"}']))
def test_keep_and_keep_after_are_their_definition(pieces, kinds, skip, record):
    body = record + b"\n" + b"\n".join(pieces)
    lines = body.split(b"\n")[1:]
    want = _definition(lines, kinds, skip)
    assert event_lines.keep(lines, kinds, skip) == want
    assert event_lines.keep_after(body, body.find(b"\n"), kinds, skip) == want


def test_keep_after_without_a_newline_keeps_nothing():
    assert event_lines.keep_after(b'{"kind":"send"}', -1, SCORED_KINDS) == []
    assert event_lines.keep_after(b'{}\n{"kind":"send"}', 2, SCORED_KINDS) == [b'{"kind":"send"}']
    assert event_lines.keep_after(b'{}\n', 2, SCORED_KINDS) == []


def test_an_empty_listing_is_skipped_only_when_asked_and_only_whole():
    body = b"{}\n" + EMPTY + b"\n" + EMPTY + b"x\n" + EMPTY.replace(b"list_files", b"list_entries")
    kept = event_lines.keep_after(body, 2, SCORED_KINDS, skip_empty_listings=True)
    assert kept == [EMPTY + b"x"]
    assert len(event_lines.keep_after(body, 2, SCORED_KINDS)) == 3


def test_lines_that_start_as_the_engine_writes_them_are_judged_as_kind_of_judges_them():
    head = b'{"round":12,"agent":3,"kind":"'
    lines = [head + b'send","x":1}', head + b"sendx", head + b'sendx"}', head + b"send", head + b'wait"}',
             head + b'list"}', head + b"listy", EMPTY, EMPTY + b"x", head + b'list","action":"list_files"}',
             b'{"agent":3,"round":12,"kind":"send"}', head[:-1] + b'"kind":"send"}', head + b'"kind":"send"}',
             head.replace(b"12", b"-1") + b'send"}']
    for kinds in KIND_SETS:
        for skip in (False, True):
            body = b"{}\n" + b"\n".join(lines)
            assert event_lines.keep_after(body, 2, kinds, skip) == _definition(lines, kinds, skip), (kinds, skip)
