"""Tables and metrics on constructed score tables whose right answers are known by hand."""

import asyncio
import math

import polars as pl
import pytest

from silo.agents.scripted import scripted_team
from silo.analysis import build_tables, explain, filter_tables, models_label
from silo.conformance import run_reference
from silo.episode import run_episode
from silo.metrics import (
    aggregate,
    compare,
    jaccard,
    leaders,
    optimal_edges,
    pair_key,
    rank_with_ties,
    rcc,
    received_counts,
    topology_kind,
)
from silo.records import AgentScore, EpisodeConfig, EpisodeScore, Usage
from silo.scoring import score_episode
from silo.stats import wilson
from silo.tasks import get_task

OUTCOME_FLAGS = {  # outcome -> (submitted, correct, held)
    "correct": (True, True, True), "lucky": (True, True, False), "uninformed": (True, False, False),
    "relay_loss": (True, False, False), "integration_error": (True, False, True), "no_answer": (False, False, False),
}


def ep(eid, outcomes, task="I-01", n=None, protocol="p2p", team="t", replicate=0, status="complete",
       instance=None, partial=None, answers_differ=False, level=1, usage=None, rounds=4, messages=0):
    """A hand-made EpisodeScore: one agent per outcome given."""
    n = n or len(outcomes)
    agents = []
    for a, o in enumerate(outcomes):
        sub, cor, held = OUTCOME_FLAGS[o]
        agents.append(AgentScore(episode_id=eid, agent=a, submitted=sub, submit_round=1 if sub else None,
                                 correct=cor, partial=(partial[a] if partial else float(cor)),
                                 reach=1.0 if held or o == "relay_loss" else 0.5,
                                 evidence=1.0 if held else 0.5, held=held, outcome=o))
    ok = status != "error"
    s = sum(a.correct for a in agents) / n
    return EpisodeScore(
        episode_id=eid, task=task, level=level, n_agents=n, protocol=protocol, team=team, prompt_variant="neutral",
        replicate=replicate, instance_id=instance or f"{task}-n{n}-r{replicate}", status=status,
        success=s if ok else None, partial=sum(a.partial for a in agents) / n if ok else None,
        held=sum(a.held for a in agents) / n if ok else None, solved=(s == 1) if ok else None,
        consensus_failure=answers_differ if ok else None, unanimous=(s == 1 and not answers_differ) if ok else None,
        messages=messages, bytes=0, density=0.0, rounds=rounds, rounds_to_completion=rounds if ok else None,
        tool_errors=0, usage=usage or Usage(), agents=agents)


def test_headline_metrics_by_hand():
    scores = [
        ep("e1", ["correct", "correct", "uninformed", "integration_error"], replicate=0),  # S 1/2, H 3/4
        ep("e2", ["lucky", "no_answer", "relay_loss", "correct"], replicate=1),  # S 1/2, H 1/4
        ep("e3", ["correct"] * 4, replicate=2),  # S 1, H 1
    ]
    e = build_tables(scores).episodes
    assert e.get_column("S").to_list() == [0.5, 0.5, 1.0]
    assert e.get_column("H").to_list() == [0.75, 0.25, 1.0]
    row = aggregate(e, ["team"]).row(0, named=True)
    assert row["episodes"] == 3 and row["instances"] == 3 and row["errors"] == 0
    assert row["S"] == pytest.approx(2 / 3)  # episode-weighted mean of (1/2, 1/2, 1)
    assert row["H"] == pytest.approx(2 / 3)
    assert row["gap"] == pytest.approx(0.0)
    assert row["uninformed"] == pytest.approx(1 / 12) and row["lucky"] == pytest.approx(1 / 12)
    assert row["solved"] == pytest.approx(1 / 3)
    w = wilson(1, 3)  # solved is a rate over 3 distinct instances
    assert (row["solved_lo"], row["solved_hi"]) == (pytest.approx(w.lo), pytest.approx(w.hi))
    assert row["S_lo"] <= row["S"] <= row["S_hi"]


def test_gap_decomposition_identity():
    # H - S = integration_error + (no_answer and held) - lucky, episode by episode
    scores = [ep("a", ["integration_error", "lucky", "correct", "uninformed"]),
              ep("b", ["integration_error", "integration_error", "relay_loss", "no_answer"], replicate=1)]
    e = build_tables(scores).episodes
    for r in e.iter_rows(named=True):
        assert r["gap"] == pytest.approx(r["integration_error"] + r["no_answer_held"] - r["lucky"])
        assert sum(r[o] for o in OUTCOME_FLAGS) == pytest.approx(1.0)
    assert e.get_column("gap").to_list() == [pytest.approx(0.0), pytest.approx(0.5)]


def test_degenerate_all_correct_and_all_wrong():
    right = [ep(f"r{i}", ["correct"] * 3, replicate=i, team="right") for i in range(5)]
    wrong = [ep(f"w{i}", ["uninformed"] * 3, replicate=i, team="wrong") for i in range(5)]
    agg = aggregate(build_tables(right + wrong).episodes, ["team"])
    r, w = agg.row(0, named=True), agg.row(1, named=True)
    full, none = wilson(5, 5), wilson(0, 5)
    assert (r["S"], r["S_lo"], r["S_hi"]) == (1.0, pytest.approx(full.lo), 1.0)
    assert (w["S"], w["S_lo"], w["S_hi"]) == (0.0, 0.0, pytest.approx(none.hi))
    assert (r["H"], w["H"], w["uninformed"]) == (1.0, 0.0, 1.0)


def test_errors_counted_not_scored_and_consensus_only_on_global_tasks():
    scores = [ep("g1", ["correct", "integration_error"], answers_differ=True),
              ep("g2", ["correct", "correct"], replicate=1),
              ep("x", ["no_answer", "no_answer"], replicate=2, status="error"),
              ep("s1", ["correct", "uninformed"], task="II-11", level=2)]  # segmented: no consensus
    e = build_tables(scores).episodes
    assert e.filter(pl.col("task") == "II-11").get_column("consensus_failure").to_list() == [None]
    row = aggregate(e, ["team"]).row(0, named=True)
    assert row["errors"] == 1 and row["episodes"] == 3
    assert row["consensus_failure"] == pytest.approx(1 / 2) and row["consensus_failure_n"] == 2
    assert row["S"] == pytest.approx((0.5 + 1 + 0.5) / 3)


def test_rcc_against_same_team_baseline():
    scores = [ep("b1", ["correct"], n=1, protocol="none", team="a"),
              ep("b2", ["correct"], n=1, protocol="none", team="a", task="I-07"),
              ep("k1", ["correct", "uninformed"], team="a"), ep("k2", ["correct", "uninformed"], team="a", task="I-07"),
              ep("z1", ["uninformed"], n=1, protocol="none", team="b"), ep("z2", ["correct", "correct"], team="b")]
    r = rcc(build_tables(scores).episodes, ["team", "n_agents"])
    a = r.filter(pl.col("team") == "a").row(0, named=True)
    assert (a["S_1"], a["S_k"], a["RCC"], a["tasks"]) == (1.0, 0.5, pytest.approx(0.5), 2)
    b = r.filter(pl.col("team") == "b").row(0, named=True)
    assert math.isnan(b["RCC"])  # S(N=1) = 0: RCC undefined, not infinite


def test_compare_known_discordant_pairs():
    # 7 matched instances: A solves 6, B solves 1 of those; B never solves one A misses
    a = [ep(f"a{i}", ["correct", "correct"], replicate=i, team="A") for i in range(6)]
    a.append(ep("a6", ["uninformed", "uninformed"], replicate=6, team="A"))
    b = [ep("b0", ["correct", "correct"], replicate=0, team="B")]
    b += [ep(f"b{i}", ["correct", "uninformed"], replicate=i, team="B") for i in range(1, 7)]
    t = build_tables(a + b).episodes
    row = compare(t.filter(pl.col("team") == "A"), t.filter(pl.col("team") == "B")).row(0, named=True)
    assert (row["pairs"], row["both"], row["A_only"], row["B_only"], row["neither"]) == (7, 1, 5, 0, 1)
    assert row["mcnemar_p"] == pytest.approx(2 / 32)
    assert row["dS"] == pytest.approx(6 / 7 - (1 + 6 * 0.5) / 7)
    with pytest.raises(ValueError, match="several episodes"):
        compare(t, t)


def test_compare_two_protocols_pairs_on_the_instance():
    # the same 4 instances under p2p (solves 3) and p2p+commit (solves 1, one of those 3): discordant 2 vs 0
    a = [ep(f"p{i}", ["correct", "correct"] if i < 3 else ["uninformed"] * 2, replicate=i) for i in range(4)]
    b = [ep(f"c{i}", ["correct", "correct"] if i == 0 else ["uninformed"] * 2, replicate=i, protocol="p2p+commit")
         for i in range(4)]
    t = build_tables(a + b).episodes
    assert pair_key(t.filter(pl.col("protocol") == "p2p"), t) == ["instance_id", "protocol"]
    p2p, commit = t.filter(pl.col("protocol") == "p2p"), t.filter(pl.col("protocol") == "p2p+commit")
    row = compare(p2p, commit).row(0, named=True)
    assert (row["pairs"], row["both"], row["A_only"], row["B_only"], row["neither"]) == (4, 1, 2, 0, 1)
    assert row["mcnemar_p"] == pytest.approx(2 / 4)
    # a side holding several protocols cannot pair on the instance alone: the error names the protocol
    other = build_tables([ep("x0", ["correct", "correct"], replicate=0, protocol="sfs")]).episodes
    with pytest.raises(ValueError, match=r"several episodes per \(instance_id\); they differ in protocol"):
        compare(t, other)


def test_topologies_and_structure():
    assert optimal_edges("star", 4) == {(1, 0), (2, 0), (3, 0), (0, 1), (0, 2), (0, 3)}
    assert optimal_edges("chain", 4) == {(0, 1), (1, 2), (2, 3)}
    assert optimal_edges("halo", 3) == {(0, 1), (1, 2), (1, 0), (2, 1)}
    assert optimal_edges("tree", 4) == {(1, 0), (2, 0), (3, 1), (0, 1), (0, 2), (1, 3)}
    assert len(optimal_edges("all-to-all", 5)) == 20
    assert optimal_edges("star", 1) is None and optimal_edges("mystery", 4) is None
    assert topology_kind("all-to-all shuffle (every agent exchanges with every other)") == "all-to-all"
    assert topology_kind("tree reduce") == "tree" and topology_kind("chain of neighbour exchanges") == "chain"
    assert jaccard({(0, 1), (1, 0)}, {(0, 1)}) == 0.5 and jaccard(set(), None) is None
    assert leaders([4, 1, 1, 1, 1]) == [0]  # 4 > 1.5 * 8/5
    assert leaders([2, 2, 2]) == [] and leaders([0, 0]) == []
    assert received_counts([{"receiver": 1}, {"receiver": 1}, {"receiver": None}], 3) == [0, 2, 0]
    assert rank_with_ties([1.0, 0.99, 0.5, 0.0], [0.8, 0.79, 0.3, 0.0], [1.0, 1.0, 0.7, 0.2]) == [1, 1, 3, 4]


@pytest.mark.parametrize("protocol", ["p2p", "sfs"])
def test_real_reference_episodes_structure(protocol):
    def one(task, team):
        inst = get_task(task).make_instance(5, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=5, protocol=protocol, team=team)
        e = asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol)))
        return e, score_episode(e)

    e, s = one("I-01", "oracle")  # the star is exactly the optimal topology; agent 0 is the only leader
    t = build_tables([s], [e])
    row = t.episodes.row(0, named=True)
    assert (row["fidelity"], row["leaders"], row["has_leader"]) == (1.0, "0", True)
    assert t.messages.filter(pl.col("receiver").is_not_null()).height == 8  # 4 partials in, 4 answers out
    assert t.agents.get_column("received").to_list() == [4, 1, 1, 1, 1]
    e, s = one("I-01", "gossip")  # everyone to everyone: 8 optimal edges of 20 used
    assert build_tables([s], [e]).episodes.row(0, named=True)["fidelity"] == pytest.approx(8 / 20)
    e, s = one("II-11", "oracle")  # the chain oracle uses exactly the chain
    assert build_tables([s], [e]).episodes.row(0, named=True)["fidelity"] == 1.0


def test_agent_rows_explain_failures_and_filters():
    s = run_reference("I-01", "p2p", 2, "miscompute")
    t = build_tables([s])
    assert set(t.agents.get_column("outcome")) == {"integration_error"}
    assert all(w.startswith("held all the information") for w in t.agents.get_column("why"))
    assert "round 1" in explain("uninformed", {"reach": 0.5, "evidence": 0.5, "submit_round": 1})
    assert filter_tables(t, team="miscompute", n_agents=2).episodes.height == 1
    assert filter_tables(t, team="oracle").episodes.height == 0
    with pytest.raises(ValueError, match="unknown column"):
        filter_tables(t, colour="red")
    assert models_label(["a", "b", "a", None]) == "a+b" and models_label([None]) == ""


def test_tokens_and_redundancy_per_episode():
    s = ep("u", ["correct", "correct"], usage=Usage(input_tokens=800, output_tokens=200), rounds=4, messages=4)
    row = build_tables([s]).episodes.row(0, named=True)
    assert (row["tokens_in_per_round"], row["tokens_out_per_round"]) == (200.0, 50.0)
    assert row["optimal_messages"] == 2  # I-01 star at N = 2: one partial in, one answer out
    assert row["redundancy"] == 2.0


def test_pinned_task_versions_stay_apart_in_every_table():
    """A run of I-03@1 (the reference generator) beside I-03 (the default) gives two task keys, never one row."""
    scores = [run_reference(t, "broadcast", 3, "oracle") for t in ("I-03@1", "I-03")]
    assert [s.task_version for s in scores] == [1, 2]
    t = build_tables(scores)
    assert sorted(t.episodes.get_column("task").to_list()) == ["I-03", "I-03@1"]
    assert sorted(t.agents.get_column("task").unique().to_list()) == ["I-03", "I-03@1"]


@pytest.mark.parametrize("old_format", [False, True])
def test_report_tables_from_skimmed_episodes_equal_the_full_ones(tmp_path, old_format):
    # `silo report` reads only send/write/read events and keeps per-link sums: same tables as the full read
    from silo import episode_io
    from silo.analysis import load_run
    from silo.metrics import MESSAGE_KINDS
    from silo.runner import RunDir

    rd = RunDir(tmp_path / "run")
    rd.episodes_dir.mkdir(parents=True)
    scores = []
    for task, protocol, team in [("I-01", "broadcast", "oracle"), ("I-01", "sfs", "gossip"),
                                 ("II-11", "p2p", "premature")]:
        inst = get_task(task).make_instance(4, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=4, protocol=protocol, team=team)
        e = asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol)))
        if old_format:  # a run written before episode_io: one JSON document per episode
            (rd.episodes_dir / f"{e.id}.json").write_text(e.model_dump_json(exclude_none=True))
        else:
            episode_io.write(rd.episodes_dir, e)
        scores.append(score_episode(e))
    rd.write_scores(scores)
    full, skim = list(rd.episodes()), list(rd.episodes(kinds=MESSAGE_KINDS))
    assert [[x for x in e.events if x.kind in MESSAGE_KINDS] for e in full] == [e.events for e in skim]
    assert [e.model_copy(update={"events": []}) for e in full] == [e.model_copy(update={"events": []}) for e in skim]
    assert {x.kind for e in full for x in e.events} > MESSAGE_KINDS  # the skim did leave events out
    whole = build_tables(scores, full, run="run")
    early = []  # what `silo report` hands its plot worker before the agent grain is built
    heads = []  # and before the episode grain, for the heatmaps
    lean = load_run(rd.path, messages=False, ready=early.append, heads=lambda h, links: heads.append((h, links)))
    assert lean.episodes.equals(whole.episodes) and lean.agents.equals(whole.agents)
    assert len(early) == 1 and early[0].episodes.equals(lean.episodes) and early[0].links.equals(lean.links)
    assert len(heads) == 1 and heads[0][1].equals(lean.links)
    assert heads[0][0].equals(lean.episodes.select(heads[0][0].columns)) and {"S", "team"} <= set(heads[0][0].columns)
    assert early[0].agents.is_empty() and lean.agents.height > 0
    assert lean.messages.is_empty() and whole.messages.height > 0
    assert lean.links.sort(pl.all()).equals(whole.links.sort(pl.all()))  # sums of the message rows
    assert lean.links.get_column("n").sum() == whole.messages.height


def test_rcc_interval_does_not_depend_on_row_order():
    # the bootstrap draws tasks by position: the tasks must come in a fixed order, whatever polars' group_by does
    tasks = ["I-01", "I-02", "I-03", "I-04", "I-05", "I-06", "I-07", "I-08"]
    scores = [ep(f"b{i}", ["correct"], n=1, protocol="none", team="a", task=t) for i, t in enumerate(tasks)]
    scores += [ep(f"k{i}", ["correct"] * (i % 3) + ["uninformed"] * (3 - i % 3), team="a", task=t)
               for i, t in enumerate(tasks)]
    e = build_tables(scores).episodes
    runs = [rcc(e.sample(fraction=1.0, shuffle=True, seed=k), ["team", "n_agents"]) for k in range(8)]
    assert all(r.equals(runs[0]) for r in runs) and runs[0].get_column("RCC_lo").is_not_nan().all()


def test_report_facts_sidecar_is_reused_and_invalidated_by_the_episode_files(tmp_path, caplog):
    # the second `silo report` of a run reads facts from RUN/.report-facts.json.gz; an episode file rewritten
    # or damaged since is read again (its CRC no longer matches), never served from the sidecar
    from silo import episode_io, report_facts
    from silo.analysis import load_run
    from silo.runner import RunDir

    rd = RunDir(tmp_path / "run")
    rd.episodes_dir.mkdir(parents=True)
    eps, scores = [], []
    for task, protocol, team in [("I-01", "broadcast", "oracle"), ("I-01", "sfs", "gossip"),
                                 ("II-11", "p2p", "premature")]:
        inst = get_task(task).make_instance(4, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=4, protocol=protocol, team=team)
        eps.append(asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol))))
        episode_io.write(rd.episodes_dir, eps[-1])
        scores.append(score_episode(eps[-1]))
    rd.write_scores(scores)
    side = rd.path / report_facts.SIDECAR
    first = load_run(rd.path, messages=False)
    assert side.is_file()
    stamp = side.stat().st_mtime_ns
    again = load_run(rd.path, messages=False)
    assert side.stat().st_mtime_ns == stamp  # nothing changed: the sidecar is not rewritten
    assert again.episodes.equals(first.episodes) and again.agents.equals(first.agents)
    assert again.links.equals(first.links)
    # rewrite the gossip episode with its reads and writes dropped: its links and fidelity must change
    cut = eps[1].model_copy(update={"events": [e for e in eps[1].events if e.kind not in ("read", "write")]})
    episode_io.write(rd.episodes_dir, cut)
    changed = load_run(rd.path, messages=False)
    expect = build_tables(scores, [eps[0], cut, eps[2]], run="run")
    assert changed.episodes.equals(expect.episodes) and changed.agents.equals(expect.agents)
    assert changed.links.sort(pl.all()).equals(expect.links.sort(pl.all()))
    assert not changed.links.equals(first.links)
    # damage the oracle episode's bytes: skipped with a warning, as RunDir.episodes does
    f = episode_io.path_for(rd.episodes_dir, eps[0].id)
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    damaged = load_run(rd.path, messages=False)
    assert "unreadable episode file" in caplog.text
    row = damaged.episodes.filter(pl.col("episode_id") == eps[0].id).row(0, named=True)
    assert row["fidelity"] is None and damaged.links.filter(pl.col("episode_id") == eps[0].id).is_empty()


def test_short_answers_are_the_cut_json_text():
    # ground truth: the whole value's json.dumps, cut to 60 characters; short() encodes only its head
    import json
    import random

    from silo.report_facts import short

    def ref(x):
        s = json.dumps(x, separators=(",", ":"))
        return s if len(s) <= 60 else s[:57] + "..."

    rng = random.Random(7)

    def value(depth):
        r = rng.random()
        if depth > 1 or r < 0.3:
            return rng.choice([1, -2.5, "ab", None, True, 10 ** 20, "x" * rng.randint(0, 80), float("nan")])
        if r < 0.7:
            return [value(depth + 1) for _ in range(rng.choice([0, 1, 5, 29, 30, 31, 59, 60, 61, 70]))]
        return {f"k{i}": value(depth + 1) for i in range(rng.choice([0, 1, 3, 60, 61, 70]))}

    xs = [value(0) for _ in range(400)] + [[[1] * 500], {"a": list(range(1000))}, list(range(10)), "é" * 70]
    assert sum(len(json.dumps(x)) > 60 for x in xs) > 100  # many are cut
    assert [short(x) for x in xs] == [ref(x) for x in xs]


@pytest.mark.parametrize("team,protocol", [("gossip", "broadcast"), ("oracle", "sfs"), ("chatty", "p2p")])
def test_link_summary_of_the_array_equals_the_dict_one(team, protocol):
    from silo.metrics import link_array, link_counts, link_summary, link_summary_array

    inst = get_task("I-01").make_instance(5, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=5, protocol=protocol, team=team)
    e = asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol)))
    links = link_counts(e)
    assert links and link_summary_array(link_array(links), 5) == link_summary(links, 5)
    assert link_summary_array(link_array({}), 5) == (set(), [0] * 5, [0] * 5)
