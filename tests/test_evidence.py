"""Scorer v2 rules on hand-built logs: provenance by evidence, candidate sets, formats, guards."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from silo.evidence import CHANCE_THRESHOLD, CLAIMS_OFF, parse
from silo.metrics import leaders
from silo.records import Episode, EpisodeConfig, Event, Submission
from silo.scoring import SCORER_VERSION, ScoringError, score_episode
from silo.tasks import get_task


def _ep(task: str, n: int, seed: int, events: list[Event], answers: dict, protocol: str = "broadcast") -> Episode:
    inst = get_task(task).make_instance(n, suite_seed=seed)
    last = max((e.round for e in events), default=0) + 1
    subs = [Submission(agent=a, round=last, answer=v(inst) if callable(v) else v) for a, v in answers.items()]
    events = events + [Event(round=last, agent=s.agent, kind="submit", args={"answer": s.answer}) for s in subs]
    cfg = EpisodeConfig(task=task, n_agents=n, protocol=protocol, team="hand")
    return Episode(id="hand", config=cfg, instance=inst, events=events, submissions=subs, status="complete",
                   rounds=last)


class Log:
    """Broadcast/p2p log builder: send in round r, delivered (fetched) in round r + 1."""

    def __init__(self, n: int):
        self.n, self.events, self.mid = n, [], 0

    def send(self, rnd: int, a: int, text: str, to: list[int] | None = None) -> None:
        to = to if to is not None else [b for b in range(self.n) if b != a]
        self.events.append(Event(round=rnd, agent=a, kind="send", msg_id=self.mid, to=to, content=text,
                                 chars=len(text)))
        self.events += [Event(round=rnd + 1, agent=b, kind="deliver", msg_id=self.mid, sender=a) for b in to]
        self.mid += 1

    def hellos(self, rnd: int = 1) -> None:
        for a in range(self.n):
            self.send(rnd, a, f"Hi all, agent {a} here, ready to work.")


def _seed_with_max_in(task, n: int, owner: int) -> int:
    for seed in range(500):
        inst = task.make_instance(n, suite_seed=seed)
        if max(inst.shards[owner].data) == inst.truth[0]:
            return seed
    raise AssertionError("no seed")


def test_parse_real_formats():
    p = parse("Total: 1,234.56 and 1,167; list [1,2,3]; range 10-20; x = −5; 0x1a")
    assert {1234.56, 1167, 26, -5}.issubset(p.counts) and p.numbers[4:7] == (1, 2, 3)
    assert 20 in p.counts and -20 not in p.counts  # the hyphen of a range is no sign
    assert {("bob", 9), ("alice", 7), ("apple", 5)} <= parse('Bob: 9, Alice: 7, "apple": 5').labelled
    md = parse("| agent | max |\n|---|---|\n| 0 | 977 |\n```json\n{\"max\": 981}\n```")
    assert {977, 981} <= set(md.numbers)


def test_hello_round_does_not_let_a_pasted_list_stand_for_everyone():
    # everyone says hello (reach complete), then agent 0 pastes its own list, which holds the global max
    t = get_task("I-01")
    seed = _seed_with_max_in(t, 3, 0)
    log = Log(3)
    log.hellos()
    inst = t.make_instance(3, suite_seed=seed)
    log.send(2, 0, "my numbers: " + json.dumps(inst.shards[0].data))
    s = score_episode(_ep("I-01", 3, seed, log.events, {2: lambda i: i.truth[2]}))
    a2 = s.agents[2]
    assert a2.reach == 1.0 and a2.evidence == pytest.approx(2 / 3)  # shard 0 (raw) and its own, not shard 1
    assert a2.outcome == "lucky" and s.scorer_version == SCORER_VERSION == a2.scorer_version


def test_chain_after_hello_credits_running_aggregates():
    # I-02 counts travel 0 -> 1 -> 2 after a hello round; every running total is the statistic of a prefix
    t = get_task("I-02")
    inst = t.make_instance(3, suite_seed=4)
    parts = [t.partial(s.data, s.agent, inst.params) for s in inst.shards]
    log = Log(3)
    log.hellos()
    run01 = {k: parts[0][k] + parts[1][k] for k in parts[0]}
    log.send(2, 0, f"running counts: {json.dumps(parts[0])}", to=[1])
    log.send(3, 1, "running counts so far: " + ", ".join(f"{k}: {v:,}" for k, v in reversed(run01.items())), to=[2])
    s = score_episode(_ep("I-02", 3, 4, log.events, {2: lambda i: i.truth[2]}, protocol="p2p"))
    assert s.agents[2].held and s.agents[2].outcome == "correct"


def test_claim_of_a_foreign_shard_needs_its_count_not_a_coincidence():
    # agent 1 heard agent 0's count, then posts only its own count: shard 0 is not credited to agent 2
    t = get_task("I-02")
    inst = t.make_instance(3, suite_seed=7)
    c = [s.data.count("apple") for s in inst.shards]
    log = Log(3)
    log.send(1, 0, f"apple: {c[0]}", to=[1])
    log.send(2, 1, f"apple: {c[1]}", to=[2])
    a = score_episode(_ep("I-02", 3, 7, log.events, {1: 0, 2: 0}, protocol="p2p")).agents
    assert a[1].evidence == pytest.approx(2 / 3)  # its own and shard 0's labelled count
    assert a[2].evidence == pytest.approx(2 / 3)  # shard 1's own claim only, whatever c[0] is


def test_read_of_a_version_written_in_the_same_round_fails_scoring():
    ev = [Event(round=1, agent=0, kind="write", path="d0", version=0, content="1 2 3"),
          Event(round=1, agent=1, kind="read", path="d0", version=0, sender=0)]
    with pytest.raises(ScoringError, match=r"round 1, agent 1, read.*visible from the next round"):
        score_episode(_ep("I-01", 2, 0, ev, {}, protocol="sfs"))
    with pytest.raises(ScoringError, match="message 5 was never sent"):
        score_episode(_ep("I-01", 2, 0, [Event(round=2, agent=1, kind="deliver", msg_id=5, sender=0)], {}))


def test_consensus_uses_the_checkers_equivalence():
    s = score_episode(_ep("I-04", 3, 0, [], {0: True, 1: "yes", 2: "true"}))
    assert s.consensus_failure is False
    s = score_episode(_ep("I-04", 3, 0, [], {0: True, 1: "no"}))
    assert s.consensus_failure is True


def test_self_contained_agents_are_set_apart():
    s = score_episode(_ep("II-11", 3, 0, [], {0: lambda i: i.truth[0]}, protocol="p2p"))
    assert [a.self_contained for a in s.agents] == [True, False, False] and s.set_apart == 1
    assert s.task_version == get_task("II-11").version


def test_emergent_leader_needs_volume():
    assert leaders([1, 0, 0, 0, 0]) == []  # one message (a 7-character "hello!") makes no leader
    assert leaders([4, 0, 0, 0, 0], chars=[30, 0, 0, 0, 0]) == []  # four tiny messages neither
    assert leaders([4, 0, 0, 0, 0], chars=[400, 0, 0, 0, 0]) == [0]


def test_claims_off_matches_measured_chance_rates():
    spec = importlib.util.spec_from_file_location("chance_match", Path(__file__).parents[1] / "scripts/chance_match.py")
    cm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cm)
    for tid in ("I-02", "I-04", "I-05", "I-06"):
        r = cm.measure(get_task(tid), seeds=10)
        for col, kind in cm.CLAIM_KINDS.items():
            if r[col] is None:
                continue
            rate, off = cm.worst(r[col]), kind in CLAIMS_OFF.get(tid, ())
            # few seeds: a band around the threshold (the script's 20 seeds decide)
            assert rate > CHANCE_THRESHOLD / 2 if off else rate <= 2 * CHANCE_THRESHOLD, (tid, kind, rate)


def test_scores_of_an_older_scorer_are_rescored_offline(tmp_path):
    import shutil

    from silo.analysis import load_run

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "llm_run", run)
    rows = []
    for line in (run / "scores.jsonl").read_text().splitlines() if (run / "scores.jsonl").exists() else []:
        rows.append(json.loads(line) | {"scorer_version": 1})
    (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = load_run(run)
    assert set(t.episodes.get_column("scorer_version")) == {SCORER_VERSION}
    lines = (run / "scores.jsonl").read_text().splitlines()
    assert lines and all(json.loads(x)["scorer_version"] == SCORER_VERSION for x in lines)


def test_indexed_run_search_agrees_with_the_plain_scan():
    # Parsed.has_run tries only the positions of a rare value of the run: it must find exactly what a scan
    # of every start finds (runs cut from the content, and random runs, over a small alphabet of repeats)
    import random

    from silo.evidence import _contains_run

    rng = random.Random(7)
    for _ in range(300):
        nums = tuple(rng.randrange(4) for _ in range(rng.randrange(1, 60)))
        p = parse(" ".join(map(str, nums)))
        assert p.numbers == nums
        for _ in range(10):
            lo = rng.randrange(len(nums))
            run = nums[lo:lo + rng.randrange(1, 9)] if rng.random() < 0.5 else tuple(
                rng.randrange(5) for _ in range(rng.randrange(1, 9)))
            assert p.has_run(run) == _contains_run(nums, run), (nums, run)
