"""The report's facts sidecar written by scoring: equal to the report's own facts, and the first report after
scoring reads no episode file; a stale entry (rewritten file, changed code) is never served."""

import asyncio
import gzip
import json
import shutil
import zlib

import polars as pl
import pytest

from silo import episode_io, report_facts
from silo.agents.scripted import scripted_team
from silo.analysis import load_run
from silo.episode import run_episode
from silo.records import EpisodeConfig
from silo.runner import RunDir, score_run
from silo.tasks import get_task

# sends, writes and reads of other agents' files, sends to departed agents (premature), a silent team,
# an N = 1 episode, tasks whose answers are lists (II-11) and numbers (I-01)
CELLS = [("I-01", 4, "broadcast", "oracle"), ("I-01", 4, "sfs", "gossip"), ("II-11", 5, "p2p", "premature"),
         ("II-11", 3, "broadcast", "chatty"), ("I-07", 4, "p2p", "silent"), ("I-01", 1, "none", "oracle")]


def _episodes():
    out = []
    for task, n, protocol, team in CELLS:
        inst = get_task(task).make_instance(n, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team)
        out.append(asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol))))
    return out


@pytest.fixture(scope="module")
def episodes():
    return _episodes()


def _run(tmp_path, episodes, name="run") -> RunDir:
    rd = RunDir(tmp_path / name)
    rd.episodes_dir.mkdir(parents=True)
    for e in episodes:
        episode_io.write(rd.episodes_dir, e)
    return rd


def _sidecar(rd: RunDir) -> dict:
    return json.loads(gzip.decompress((rd.path / report_facts.SIDECAR).read_bytes()))


def _no_episode_reads(monkeypatch):
    """Every way of reading an episode's content fails: only the sidecar can give the facts."""
    def refuse(*a, **k):
        raise AssertionError("an episode file was read")
    for name in ("_split", "_body", "read", "read_scored", "load_dict", "events", "header"):
        monkeypatch.setattr(episode_io, name, refuse)
    monkeypatch.setattr(report_facts, "read_facts", refuse)


@pytest.mark.parametrize("jobs", [1, 2])
def test_scoring_writes_the_facts_the_report_derives_itself(tmp_path, episodes, jobs):
    # ground truth: the report's own reader (report_facts.read_facts: raw JSON, no pydantic), file by file
    rd = _run(tmp_path, episodes)
    score_run(rd, jobs=jobs)  # jobs=2: the facts come back from worker processes with the rows
    side = _sidecar(rd)
    assert side["key"] == report_facts._code_key()
    files = rd.episode_files()
    assert sorted(side["files"]) == sorted(f.name for f in files)
    for f in files:
        raw = f.read_bytes()
        size, crc, packed = side["files"][f.name]
        assert [size, crc] == [len(raw), zlib.crc32(raw)]
        assert packed == json.loads(json.dumps(report_facts._pack(report_facts.read_facts(f))))
    gone = {f["id"]: sum(n for _, n in f["gone"]) for _, _, f in side["files"].values()}
    assert any(gone.values())  # the premature team's sends to departed agents are among the facts
    # and the report's own sidecar, written from scratch, is the same file content
    own = _run(tmp_path, episodes, "own")
    shutil.copy(rd.path / "scores.jsonl", own.path / "scores.jsonl")
    load_run(own.path, messages=False)
    assert _sidecar(own) == side


def test_first_report_after_scoring_reads_no_episode_file(tmp_path, episodes, monkeypatch):
    rd = _run(tmp_path, episodes)
    ref = _run(tmp_path, episodes, "ref")
    score_run(rd)
    shutil.copy(rd.path / "scores.jsonl", ref.path / "scores.jsonl")
    want = load_run(ref.path, messages=False)  # the report reading every episode (no sidecar from scoring)
    want.episodes = want.episodes.with_columns(pl.lit("run").alias("run"))
    want.agents = want.agents.with_columns(pl.lit("run").alias("run"))
    _no_episode_reads(monkeypatch)
    got = load_run(rd.path, messages=False)
    assert got.episodes.equals(want.episodes) and got.agents.equals(want.agents)
    assert got.links.get_column("n").to_list() == want.links.get_column("n").to_list()
    assert got.episodes.get_column("fidelity").drop_nulls().len() > 0  # facts were there, not left out


def test_a_stale_sidecar_from_scoring_is_not_served(tmp_path, episodes, monkeypatch):
    rd = _run(tmp_path, episodes)
    score_run(rd)
    # rewrite the gossip episode without its reads and writes after scoring: its entry no longer matches
    cut = episodes[1].model_copy(update={"events": [e for e in episodes[1].events if e.kind not in ("read", "write")]})
    episode_io.write(rd.episodes_dir, cut)
    reads = []
    real = report_facts.read_facts
    monkeypatch.setattr(report_facts, "read_facts", lambda p: reads.append(p.name) or real(p))
    t = load_run(rd.path, messages=False)
    assert reads == [episode_io.path_for(rd.episodes_dir, cut.id).name]  # only the rewritten file is read
    assert t.links.filter(pl.col("episode_id") == cut.id).is_empty()  # the facts of the new file, not the old
    before = t.links.filter(pl.col("episode_id") != cut.id)
    assert len(before) > 0
    # a change to the code that derives facts (its key) invalidates every entry scoring wrote
    score_run(rd)
    reads.clear()
    monkeypatch.setattr(report_facts, "_code_key", lambda: "other code")
    load_run(rd.path, messages=False)
    assert sorted(reads) == sorted(f.name for f in rd.episode_files())


def test_a_file_scoring_cannot_read_gets_no_entry_and_the_report_still_warns(tmp_path, episodes, caplog):
    rd = _run(tmp_path, episodes)
    f = episode_io.path_for(rd.episodes_dir, episodes[0].id)
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    score_run(rd)
    assert f.name not in _sidecar(rd)["files"] and len(_sidecar(rd)["files"]) == len(episodes) - 1
    caplog.clear()
    load_run(rd.path, messages=False)
    assert "unreadable episode file" in caplog.text and f.name in caplog.text


def test_an_unwritable_run_directory_is_still_scored(tmp_path, episodes):
    rd = _run(tmp_path, episodes)
    (rd.path / report_facts.SIDECAR).mkdir()  # the sidecar cannot be written there: no speed-up, no failure
    assert len(score_run(rd)) == len(episodes)
    assert (rd.path / "scores.jsonl").is_file() and not list(rd.path.glob("*.tmp"))


def test_fidelity_from_the_mask_equals_jaccard_of_the_edge_sets():
    # ground truth: metrics.link_summary_array's edge set and metrics.jaccard, on random link arrays with
    # writes, agents out of range and optimal topologies of every kind (and an empty one)
    import numpy as np

    from silo.analysis import _fidelity, _optimal
    from silo.metrics import NONE, TOPOLOGIES, jaccard, link_array, link_summary_array

    rng = np.random.default_rng(3)
    checked = 0
    for n in (2, 3, 5, 20):
        for kind, make in TOPOLOGIES.items():
            for _ in range(4):
                links = {}
                for _ in range(int(rng.integers(0, 3 * n))):
                    s, r = int(rng.integers(-1, n + 2)), int(rng.integers(-1, n + 2))
                    links[(s, None if rng.random() < 0.2 else r)] = [int(rng.integers(1, 5)), int(rng.integers(0, 99))]
                a = link_array(links)
                for optimal in (make(n), set()):
                    edges, got, chars = link_summary_array(a, n)
                    fid, got2, chars2 = _fidelity(a, n, *_optimal(optimal, n))
                    assert (fid, got2, chars2) == (jaccard(edges, optimal), got, chars), (kind, n, links)
                    checked += fid is not None and 0 < fid < 1
    assert checked > 20 and NONE < 0


def test_scoring_and_its_facts_never_import_polars(tmp_path, episodes):
    # the message kinds report_facts reads without importing metrics are metrics.MESSAGE_KINDS; and `silo score`
    # (its facts included) runs without polars: a fresh process scores a file and checks sys.modules
    import subprocess
    import sys

    from silo.metrics import MESSAGE_KINDS

    assert report_facts._WANT == {k.encode() for k in MESSAGE_KINDS}
    rd = _run(tmp_path, episodes[:2])
    code = ("import sys; import silo.cli; from silo.score_jobs import score_file; from pathlib import Path; "
            f"r = score_file(Path({str(rd.episode_files()[1])!r})); assert r.score and r.facts, r; "
            "print(sorted(m for m in ('polars', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"



W, LOW, HIGH = -(1 << 63), -(1 << 31), (1 << 31) - 1  # metrics.NONE (a write's receiver), int32's extremes


@pytest.mark.parametrize("links,narrow", [
    ([[0, 1, 2], [1, W, 0], [3, 1, 2], [64, 10, 7]], True), ([[0], [1], [1], [HIGH]], True),
    ([[0], [LOW + 1], [1], [5]], True), ([[], [], [], []], True),
    ([[0], [LOW], [1], [5]], False), ([[0], [1], [1], [HIGH + 1]], False), ([[0], [W], [1], [LOW]], False)])
def test_packed_links_unpack_to_the_same_array(links, narrow):
    import numpy as np

    from silo.metrics import NONE

    assert W == NONE
    a = np.array(links, dtype=np.int64).reshape(4, -1)
    packed = json.loads(json.dumps(report_facts._pack({"links": a})))
    assert packed["links"].startswith(report_facts._NARROW) is narrow  # int32 where every value fits
    back = report_facts._unpack(packed)["links"]
    assert back.dtype == np.int64 and back.shape == a.shape and (back == a).all()
