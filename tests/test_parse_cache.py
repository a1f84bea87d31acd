"""The parse cache's bounds (issue 16, target 2: the scorer at N = 1,000 on floods).

Long texts' Parsed are kept up to evidence_text.LONG_KEPT characters, the views credit makes of a text up to
credit.TEXTS_KEPT (both silo.sized_cache.SizedCache) (least recently asked dropped first), number
positions for the last _POSITIONS_KEPT contents, and 0/1 runs are read from the source on first use. None of it may
change what a content is read as, nor any score: checked against uncached parses, a brute-force run search, and
scores with the bounds made tiny (every long text parsed again, positions rebuilt on nearly every look-up)."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest

from silo import credit, evidence_text, replay_cache
from silo.agents.scripted import scripted_team
from silo.episode import run_episode, run_sync
from silo.evidence_text import _parse, parse
from silo.records import EpisodeConfig
from silo.scoring import score_episode
from silo.sized_cache import SizedCache
from silo.tasks import get_task


def _long(k: int) -> str:
    return f"agent {k} relays " + ", ".join(f"[{k}, {j}, {(j * k) % 97}]" for j in range(400))  # ~5,000 chars


@pytest.fixture
def small_cache(monkeypatch):
    monkeypatch.setattr(evidence_text, "_LONG", SizedCache(20_000))
    monkeypatch.setattr(evidence_text, "LONG_KEPT", 20_000)
    return evidence_text


def test_long_texts_are_kept_up_to_the_character_budget(small_cache):
    texts = [_long(k) for k in range(30)]
    assert all(len(t) >= evidence_text.LONG for t in texts)
    first = parse(texts[0])
    for t in texts[1:]:
        parse(t)
        assert sum(map(len, small_cache._LONG)) == small_cache._LONG.chars <= small_cache.LONG_KEPT
    kept = list(small_cache._LONG)
    assert kept == texts[-len(kept):] and 1 < len(kept) < 10  # the most recent, in order
    again = parse(texts[0])  # dropped: parsed again, to the same reading
    assert again is not first and again.numbers == first.numbers and again.counts == first.counts
    assert again.words == first.words and again.wordseq == first.wordseq
    assert parse(texts[0]) is again  # and now kept


def test_a_long_text_asked_again_is_kept_before_older_ones(small_cache):
    texts = [_long(k) for k in range(12)]
    held = parse(texts[0])
    for t in texts[1:]:
        parse(t)
        assert parse(texts[0]) is held  # asked after every new one: the most recent, never dropped


def test_short_texts_stay_in_the_count_cache(small_cache):
    p = parse("apple: 5, kiwi 3")
    assert parse("apple: 5, kiwi 3") is p and not small_cache._LONG


def _plain_bitruns(text: str) -> tuple[str, ...]:  # the reading parse() made up front before it was lazy
    text = text.replace("\u2212", "-").replace("\u2013", "-")
    return tuple(m if len(m) == 1 else re.sub("[^01]", "", m) for m in re.findall(r"[01](?:[\s,;\[\]]*[01])*", text))


@pytest.mark.parametrize("text", ["rows 0 1 1 0; 1,1,0", "[1, 0, 0]\n[0, 1]", "\u22121 0 1 \u2013 1 1", "none here 23",
                                  "x 10 01 and 2 1"])
def test_bit_runs_read_on_first_use_are_the_up_front_ones(text):
    p = _parse(text)
    q = replace(p, text="another text 1 1 1 1", numbers=())  # credit._without's copy: its original's runs
    assert q.bitruns == p.bitruns == _plain_bitruns(text)
    assert replace(p, _bitruns=("1",)).bitruns == ("1",)  # credit._outside_own's copy: the runs it is given


def _brute_has_run(seq: tuple, run: tuple) -> bool:
    return any(seq[k:k + len(run)] == run for k in range(len(seq) - len(run) + 1))


def test_runs_are_found_after_their_positions_are_dropped(monkeypatch):
    monkeypatch.setattr(evidence_text, "_POSITIONS", {})
    monkeypatch.setattr(evidence_text, "_POSITIONS_KEPT", 3)
    rng = random.Random(7)
    contents = [_parse(" ".join(str(rng.randrange(6)) for _ in range(60))) for _ in range(40)]
    for _ in range(3):  # positions made, dropped, and made again (new contents may reuse freed ids meanwhile)
        for p in contents + [_parse(" ".join(str(rng.randrange(6)) for _ in range(60))) for _ in range(5)]:
            for _ in range(8):
                k = rng.randrange(len(p.numbers))
                run = p.numbers[k:k + rng.randrange(1, 5)] if rng.random() < 0.6 else tuple(
                    rng.randrange(7) for _ in range(rng.randrange(1, 4)))
                assert p.has_run(run) == _brute_has_run(p.numbers, run), (p.numbers, run)
            assert len(evidence_text._POSITIONS) <= 3


def _scores(eps) -> list[dict]:
    replay_cache._shared.clear()
    evidence_text._parse_short.cache_clear()
    evidence_text._LONG.clear()
    evidence_text._POSITIONS.clear()
    return [score_episode(ep).model_dump() for ep in eps]


@pytest.mark.parametrize(("task_id", "protocol", "n"), [("II-11", "p2p:smallworld", 40), ("I-01", "p2p:grid", 25),
                                                        ("III-21", "p2p:smallworld", 30)])
def test_scores_with_tiny_cache_bounds_equal_scores_with_the_defaults(task_id, protocol, n, monkeypatch):
    inst = get_task(task_id).make_instance(n, 3)
    eps = []
    for team in ("oracle", "gossip", "miscompute"):
        cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team)
        eps.append(run_sync(run_episode(inst, cfg, scripted_team(team, inst, protocol))))
    long_texts = {e.content for ep in eps for e in ep.events if e.content and len(e.content) >= 64}
    assert len(long_texts) > 20  # the bound is exercised
    want = _scores(eps)
    monkeypatch.setattr(evidence_text, "LONG", 64)  # (these floods' messages are shorter than the default's LONG)
    monkeypatch.setattr(evidence_text, "LONG_KEPT", 1)  # keeps one long text: the rest parsed again when asked
    monkeypatch.setattr(credit, "TEXTS_KEPT", 1)  # the views of one text: the rest made again when asked
    monkeypatch.setattr(evidence_text, "_POSITIONS_KEPT", 1)
    assert _scores(eps) == want


def test_sized_cache_keeps_the_most_recently_asked_within_its_characters():
    rng = random.Random(11)
    cache, model = SizedCache(100), []  # model: [key, chars] oldest asked first, as the cache should keep them
    for _ in range(3000):
        k = rng.randrange(40)
        if rng.random() < 0.5:
            got = cache.get(k)
            hit = next((m for m in model if m[0] == k), None)
            assert (got is None) == (hit is None) and (hit is None or got == ("v", k, hit[1]))
            if hit is not None:
                model.remove(hit)
                model.append(hit)
        else:
            w = rng.randrange(1, 60)
            assert cache.put(k, ("v", k, w), w) == ("v", k, w)
            model = [m for m in model if m[0] != k] + [[k, w]]
            while sum(m[1] for m in model) > 100 and len(model) > 1:
                model.pop(0)
        assert list(cache) == [m[0] for m in model] and cache.chars == sum(m[1] for m in model)
    big = SizedCache(10)
    big.put("a", 1, 3)
    big.put("b", 2, 50)  # heavier than the whole budget: kept alone, as the last put
    assert list(big) == ["b"] and big.get("b") == 2 and big.get("a") is None


def test_views_of_a_text_are_dropped_with_it_and_made_again_the_same(monkeypatch):
    inst = get_task("I-01").make_instance(30, 2)
    cfg = EpisodeConfig(task=inst.task, n_agents=30, protocol="p2p:smallworld", team="gossip")
    ep = run_sync(run_episode(inst, cfg, scripted_team("gossip", inst, "p2p:smallworld")))
    want = _scores([ep])
    texts = replay_cache.shared_cache(get_task("I-01"), inst)["texts"]
    assert len(texts) > 10 and texts.chars <= credit.TEXTS_KEPT  # views were made, of many texts
    monkeypatch.setattr(credit, "TEXTS_KEPT", 500)
    assert _scores([ep]) == want
    texts = replay_cache.shared_cache(get_task("I-01"), inst)["texts"]
    assert texts.chars <= 500 or len(texts) == 1
