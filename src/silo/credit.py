"""How content is credited: the fingerprints the replay looks for (one object per value for a segmented task's
receivers), what a scalar statistic may match in (content without its pasted data and without sentences
stating another shard's value), and the author's own-data coincidence checks (silo.credit_hit's _hit
applies a fingerprint's strong and weak alternatives). Mixed into silo.replay.Replay.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from silo.attribution import attribution
from silo.bitsets import key as set_key
from silo.credit_hit import _hit
from silo.evidence import AnyOf, Bits, Fingerprint, Parsed, guard_ok
from silo.evidence_text import number_spans, number_values, parse, sentence_spans, table_spans
from silo.sized_cache import SizedCache

if TYPE_CHECKING:
    from silo.replay import _Content

_NONE = object()  # a cache entry not there (None is a value: no fingerprint)
TEXTS_KEPT = 8_000_000  # characters of the texts whose views are kept (_of_text)


class ContentViews:
    """Replay's fingerprints, its tests of whether content states a set's statistic or relays a shard (_states,
    _relayed), and views of content; uses the replay's task, inst, dep, _fp (cache), _keep, _segmented and _raw_i."""

    def _stat_kind(self, s: frozenset[int], c: _Content) -> str:
        """Claims count for the author's own shard, a set of several shards, or one foreign shard whose
        claim differs from the author's own (a relay's own count equals another shard's count far too
        often to tell them apart: docs/chance_match.md)."""
        if len(s) > 1 or s == {c.author}:
            return "claim"
        return "fclaim" if self._claim_differs(s, c.author) else "stat"

    def _claim_differs(self, s: frozenset[int], author: int) -> bool:
        key = ("differs", s, author)
        if key not in self._fp:
            own = self.task.claim_fingerprint(self.inst, frozenset({author}), author)
            other = self.task.claim_fingerprint(self.inst, s, author)
            self._fp[key] = other is not None and other != own  # type: ignore[assignment]
        return bool(self._fp[key])

    def _fp_key(self, kind: str, key, i: int) -> tuple:
        """The cache key of a fingerprint: receiver i only where it can differ by receiver (a segmented
        task's statistics; raw items where the task says so: TaskSpec.raw_per_receiver)."""
        if kind == "raw":
            return (kind, key, i if self._raw_i else -1)
        return (kind, set_key(key), self._receiver(key, i))  # (a large set by its bits: the key keeps no set alive)

    def _receiver(self, s: frozenset[int], i: int) -> int:
        """The receiver a statistic's fingerprint of set s is made and kept for: -1 where it is every receiver's
        (a global task; a segmented task's set its stat_receiver declares receiver-free), else i."""
        if not self._segmented:
            return -1
        return self.task.stat_receiver(self.inst, s, i) if self._scoped else i

    def _fingerprint(self, kind: str, key, i: int) -> Fingerprint | None:
        cache_key = self._fp_key(kind, key, i)
        fp = self._fp.get(cache_key, _NONE)
        if fp is _NONE:
            if kind == "raw":
                fp = self.task.raw_fingerprint(self.inst, key, i)
            else:
                fp = self.task.stat_fingerprint(self.inst, key, i)
                # an author's claim about its own shard stands on authorship; claims about several shards
                # only on tasks whose measured chance-match rate is under the threshold
                ok = (kind == "fclaim" and guard_ok(self.task.id, "foreign")) or (
                    kind == "claim" and (len(key) == 1 or guard_ok(self.task.id, "several")))
                claim = self.task.claim_fingerprint(self.inst, key, i) if ok else None
                if claim is not None and kind == "fclaim":
                    claim = claim.labelled_only()
                if claim is not None:
                    fp = claim if fp is None else AnyOf((fp, claim))
                if fp is not None and self._segmented:  # one object per value: receivers share its matches
                    fp = self._one(fp)
            self._fp[cache_key] = fp
        return fp

    def _one(self, fp: Fingerprint) -> Fingerprint:
        """The one object of fp's value in this cache (keyed by repr, which tells 1, 1.0 and True apart, as ==
        does not; fingerprints are dataclasses whose repr shows every field). An object met before is found by
        identity (a task that memoises its fingerprints gives one object for many sets and receivers: its repr,
        the cost of a long Items, is made once); the entry holds the object, so its id is not reused."""
        seen = self._fp.get(("same", id(fp)))
        if seen is not None and seen[0] is fp:
            return seen[1]
        one = self._fp.setdefault(("value", type(fp), repr(fp)), fp)
        self._keep(("same", id(fp)), (fp, one))
        return one


    def _states(self, s: frozenset[int], i: int, c: _Content, p: Parsed) -> bool:
        """Whether content c states the statistic of set s as receiver i needs it. Once per (the fingerprint,
        the author, the text, the view's target, whole): all it depends on; a segmented task's equal
        fingerprints for several receivers are one object (_fingerprint), so they are matched once."""
        a = c.author
        # (_stat_kind and _fingerprint's cache look-up, inline: ~10^5 calls on the grid, most found; s is not
        # empty, so with one member "a in s" is s == {a})
        kind = "claim" if len(s) > 1 or a in s else "fclaim" if self._claim_differs(s, a) else "stat"
        r = (self.task.stat_receiver(self.inst, s, i) if self._scoped else i) if self._segmented else -1  # (_receiver)
        fp = self._fp.get((kind, set_key(s), r), _NONE)
        if fp is _NONE:
            fp = self._fingerprint(kind, s, i)
        if fp is None:
            return False
        # weak alternatives (a boolean, a small count) count only as the whole answer
        target = next(iter(s)) if len(s) == 1 else -1
        dep = self.dep[i]
        whole = len(s) >= len(dep) and s >= dep  # (a smaller set holds no superset: no walk over it)
        key = ("states", id(fp), a, c.text, target, whole)  # fp lives in this cache: its id is not reused
        got = self._fp.get(key)
        if got is None:
            got = _hit(fp, p, lambda: self._view(c.author, p, target), whole=whole)
            if self._segmented:  # (a global task's content is searched once anyway: _credited)
                self._keep(key, got)
        return got

    def _relayed(self, kind: str, j: int, i: int, c: _Content, p: Parsed) -> bool:
        """Whether content c shows shard j's raw items (kind "raw") or its statistic as receiver i needs it,
        other than as a coincidence of the author's own data. Once per (the fingerprint's cache key, the
        author, the text): all it depends on (at N = 100 a broadcast shard is searched once, not 99 times)."""
        if kind == "raw":  # (_fp_key's, without a set made per call)
            fkey: tuple = ("raw", j, i if self._raw_i else -1)
        else:
            one = frozenset({j})
            fkey = self._fp_key(self._stat_kind(one, c), one, i)
            kind = fkey[0]
            # no statistic of {j} for this receiver (most segmented tasks' singletons): nothing to look up or keep per
            # content (a star centre's N - 1 answers read by N - 1 receivers: N^2 entries); fkey is its cache key
            fp = self._fp.get(fkey, _NONE)
            if fp is None or (fp is _NONE and self._fingerprint(kind, one, i) is None):
                return False
        key = ("relayed", fkey, c.author, c.text)
        got = self._fp.get(key)
        if got is None:
            fp = self._fingerprint(kind, j if kind == "raw" else frozenset({j}), i)  # (fkey[1] is j or {j}'s key)
            view = None if kind == "raw" else (lambda t=j: self._view(c.author, p, t))
            got = fp is not None and _hit(fp, p, view, whole=False)
            # (a shard identical to the author's own cannot be told from it: its data arrived either way)
            if (got and j != c.author and fp.strict(self._own(c.author)) and self._own_pasted(c.author, p)
                    and self.inst.shards[j].data != self.inst.shards[c.author].data
                    and not self._outside_own(fp, p, c.author)):
                got = False  # the author's own data already shows it: a coincidence, not a relay
            if self._segmented:  # (a global task's content is searched once anyway: _credited)
                self._keep(key, got)
        return got

    def _may_relay(self, i: int, c: _Content, p: Parsed, js: set[int]) -> set[int]:
        """The shards of js whose raw items or singleton statistic content c could relay to receiver i: those with
        a fingerprint whose anchor (Fingerprint.anchor) p counts a number of, or with no anchor, and the author
        (its claim kind). The rest cannot match, so _relayed is not tried on them (a flood over a grid: each of
        ~10^4 contents was tried against every shard upstream of it, ~N each, at ~10 calls a try)."""
        by_number, loose = self._relay_index(i)
        got = loose & js
        if c.author in js:
            got.add(c.author)
        for x in p.counts:
            holders = by_number.get(x)
            if holders is not None:
                got |= holders & js
        return got

    def _relay_index(self, i: int) -> tuple[dict, set[int]]:
        """(number -> the shards with a raw or singleton-statistic fingerprint for receiver i anchored on it, the
        shards with such a fingerprint that has no anchor), once per receiver. Both statistic kinds a foreign
        author's content is tried by (_stat_kind: "stat", "fclaim") are indexed; the author's own ("claim") is
        always tried."""
        key = ("relay_index", i)
        got = self._fp.get(key)
        if got is None:
            by_number: dict = {}
            loose: set[int] = set()
            for j in range(self.inst.n_agents):
                one = frozenset({j})
                for fp in (self._fingerprint("raw", j, i), self._fingerprint("stat", one, i),
                           self._fingerprint("fclaim", one, i)):
                    if fp is None:
                        continue
                    anchor = fp.anchor()
                    if anchor is None:
                        loose.add(j)
                    for x in anchor or ():
                        by_number.setdefault(x, set()).add(j)
            got = self._fp[key] = (by_number, loose)
        return got

    def _view(self, a: int, p: Parsed, target: int) -> Parsed | None:
        """What a scalar statistic (one number) may match in content p by author a: p without its pasted
        data (runs of 3+ numbers all of one shard's data: a list that happens to hold the global max is a
        coincidence of the data, not a statement of it) and without sentences attributing their numbers to
        one shard other than `target` ("agent 6's max: 9995" states shard 6's statistic, even when it is
        also the maximum of a larger set; target -1: a set of several shards). None: nothing to remove."""
        e = self._of_text(p.text)
        key = ("view", a, target)
        if key not in e:
            spans, base = self._data_numbers(p.text, e)
            cut = tuple((lo, hi) for lo, hi, k in self._attributed(a, p.text, e)
                        if k != target and self._states_own(k, p.text[lo:hi], a))
            e[key] = self._without(p, spans, base, cut, e)
        return e[key]

    def _of_text(self, text: str) -> dict:
        """What the views of one text are made of (its number spans and data, attributed sentences, views by author
        and target), one dict per text, kept for the most recently asked texts up to TEXTS_KEPT characters (a
        flood at N = 1,000: ~10^8 characters of distinct text, ~15 bytes a character of spans alone; each text's
        views are asked for within the round or two its receivers read it)."""
        texts = self._fp.get("texts")
        if texts is None:
            texts = self._fp["texts"] = SizedCache(TEXTS_KEPT)
        got = texts.get(text)
        if got is None:
            texts.limit = TEXTS_KEPT  # (read at each put: a test may set it)
            got = texts.put(text, {}, len(text))
        return got

    def _data_numbers(self, text: str, e: dict) -> tuple[tuple, frozenset[int]]:
        """(number spans of text, indices of its numbers that are data whoever wrote it: pasted shard data,
        and table rows, whose numbers (an index column) are data, not statements), once per text (e: _of_text's)."""
        got = e.get("data")
        if got is None:
            spans = number_spans(text)
            drop = self._pasted(text, spans)
            rows = table_spans(text)
            if rows:
                drop |= {n for n, (start, _, _) in enumerate(spans) if any(lo <= start < hi for lo, hi in rows)}
            got = e["data"] = (spans, frozenset(drop))
        return got

    def _attributed(self, a: int, text: str, e: dict) -> tuple[tuple[int, int, int], ...]:
        """(start, end, shard) of the sentences of text by author a that attribute their numbers to one shard."""
        key = ("attributed", a)
        got = e.get(key)
        if got is None:
            got = e[key] = tuple((lo, hi, k) for lo, hi in sentence_spans(text)
                                 if (k := attribution(text[lo:hi], a)) is not None)
        return got

    def _without(self, p: Parsed, spans: tuple, base: frozenset[int], cut: tuple, e: dict) -> Parsed | None:
        """p without the numbers of indices `base` and without the sentences `cut` (None: nothing removed);
        the same for every author and target whose cut is the same."""
        key = ("without", cut)
        if key not in e:
            drop = set(base)
            if cut:
                drop |= {n for n, (start, _, _) in enumerate(spans) if any(lo <= start < hi for lo, hi in cut)}
            if not drop:
                e[key] = None
            else:
                keep = tuple(v for n, (_, _, v) in enumerate(spans) if n not in drop)
                text = "\n".join(p.text[lo:hi] for lo, hi in sentence_spans(p.text) if (lo, hi) not in cut)
                q = parse(text)
                extra = q.counts - Counter(q.numbers)  # thousands-grouped and 0x readings of what is kept
                e[key] = replace(p, numbers=keep, counts=Counter(keep) + extra, _columns=(), text=text)
        return e[key]

    def _states_own(self, k: int, sentence: str, a: int) -> bool:
        """Whether a sentence attributed to shard k shows k's own statistic (then it states k's, even where
        that equals a larger set's: a max, a count); a value that is not k's own is left to the others."""
        if not 0 <= k < self.inst.n_agents:
            return False
        key = ("states_own", k, sentence, a)
        if key not in self._fp:
            fp = self.task.stat_fingerprint(self.inst, frozenset({k}), a)
            claim = self.task.claim_fingerprint(self.inst, frozenset({k}), a)
            q = parse(sentence)
            self._fp[key] = any(f is not None and f.matches(q) for f in (fp, claim))  # type: ignore[assignment]
        return self._fp[key]  # type: ignore[return-value]

    def _pasted(self, text: str, spans) -> set[int]:
        """Indices of the numbers of pasted data: runs of 3+ numbers all in one shard's data, with no words
        between them (an index column or one stray number in between is allowed). A run lies within a stretch of
        numbers with no words between neighbours: where no stretch holds 3, nothing is pasted (most messages: a
        JSON object's keys part its numbers), and the map of every shard's numbers is not needed."""
        words = _WordRuns(text)
        return self._run_walk(spans, words) if words.stretch(spans, 3) else set()

    def _run_walk(self, spans, words: _WordRuns) -> set[int]:
        """_pasted's walk over every number (no shortcut): each looked up in the map of the shards' numbers."""
        where = self._holders()
        drop: set[int] = set()
        run: list[int] = []
        common: int | None = None
        gap = 0
        for n, (start, _, x) in enumerate(spans):
            if run and words.between(spans[run[-1]][1], start):
                drop.update(run if len(run) >= 3 else ())
                run, common, gap = [], None, 0
            holders = where.get(x, 0)
            inter = holders if common is None else common & holders
            if inter:
                run.append(n)
                common, gap = inter, 0
            elif run and gap == 0:
                gap = 1  # one stray number (an index) inside the run
            else:
                drop.update(run if len(run) >= 3 else ())
                run, common, gap = ([n], holders, 0) if holders else ([], None, 0)
        drop.update(run if len(run) >= 3 else ())
        return drop

    def _holders(self) -> dict:
        """number -> the shards whose rendered data contain it, as a bit mask (bit j: shard j)."""
        if "holders" not in self._fp:
            where: dict = {}
            get = where.get
            for sh in self.inst.shards:
                bit = 1 << sh.agent
                for x in number_values(sh.text):  # (only the numbers: not the shard's words, bits or tables)
                    where[x] = get(x, 0) | bit
            self._fp["holders"] = where  # type: ignore[assignment]
        return self._fp["holders"]  # type: ignore[return-value]

    def _own(self, a: int) -> Parsed:
        """The author's own shard, parsed: a fingerprint of another shard that its own data already shows
        (II-14's 5 edge cells inside the author's own row) is a coincidence, not a relay."""
        return parse(self.inst.shards[a].text)

    def _own_pasted(self, a: int, p: Parsed) -> bool:
        """Whether content p shows its author's own raw shard: only then can a match be a coincidence of the
        author's own data (a relay of shard j by an author whose own shard is identical to j's is a relay)."""
        fp = self._fingerprint("raw", a, a)
        return fp is not None and fp.strict(p)

    def _outside_own(self, fp: Fingerprint, p: Parsed, a: int) -> bool:
        """Whether a 0/1 pattern matches in a run of the content that is not the author's own row: a relay
        (a star centre forwarding II-14 edge cells that also occur in its own row) is not a coincidence."""
        if not _has_bits(fp):
            return False
        own = self._own(a).bitruns
        foreign = tuple(r for r in p.bitruns if not any(r in o for o in own))
        return foreign != () and fp.strict(replace(p, _bitruns=foreign))


_WORDS_BETWEEN = re.compile(r"[A-Za-z]{2,}")


class _WordRuns:
    """The runs of 2+ letters of a text, found once: whether one lies between two numbers is then a bisection,
    not a search per number (the same answer as _WORDS_BETWEEN.search(text, lo, hi) where lo ends a number and
    hi starts one: a letter run cannot cross a digit, so each run inside lo..hi is one of the text's runs)."""

    def __init__(self, text: str):
        runs = [m.span() for m in _WORDS_BETWEEN.finditer(text)]
        self.starts = [lo for lo, _ in runs]
        self.ends = [hi for _, hi in runs]

    def between(self, lo: int, hi: int) -> bool:
        k = bisect_left(self.starts, lo)
        return k < len(self.starts) and self.ends[k] <= hi

    def stretch(self, spans, size: int) -> bool:
        """Whether `size` consecutive number spans have no letter run between neighbours (a run between two
        spans that are not neighbours lies between some pair of neighbours: a letter run cannot cross a digit)."""
        if len(spans) < size:
            return False
        if not self.starts:
            return True
        k = 1
        for n in range(1, len(spans)):
            k = 1 if self.between(spans[n - 1][1], spans[n][0]) else k + 1
            if k >= size:
                return True
        return False


def _has_bits(fp: Fingerprint) -> bool:
    return isinstance(fp, Bits) or any(_has_bits(f) for f in getattr(fp, "parts", ()))
