"""Episode files on disk (silo.episode_io): the compressed JSON Lines format, old <id>.json files beside it,
damaged and cut-short files, and a writer killed mid-write."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from json_parity import assert_reads_like_json_loads
from silo import episode_io
from silo.cli import main
from silo.rundir import RunDir, merge_runs
from silo.runner import score_run

SWEEP = ["run", "--team", "oracle,gossip", "--task", "I-01", "--n", "2,3", "--protocol", "p2p,broadcast",
         "--no-progress", "--no-preflight"]
LLM_RUN = Path(__file__).parent / "data" / "llm_run"  # committed by an older silo: <id>.json, schema 1


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("storage") / "r"
    res = _cli(*SWEEP, "-o", out)
    assert res.exit_code == 0, res.output
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _to_old(f: Path) -> Path:
    """Rewrite one episode file as an old-format <id>.json, byte for byte what silo wrote before."""
    ep = episode_io.read(f)
    old = f.parent / f"{ep.id}.json"
    old.write_text(ep.model_dump_json(exclude_none=True))
    f.unlink()
    return old


def _scores(out: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "wall_s"}
            for line in (out / "scores.jsonl").read_text().splitlines()]


def test_a_run_writes_jsonl_gz_that_reads_back_whole_and_streams(run):
    files = sorted((run / "episodes").iterdir())
    assert len(files) == 8 and all(f.name.endswith(".jsonl.gz") for f in files)
    for f in files:
        lines = gzip.decompress(f.read_bytes()).decode().splitlines()
        meta, record, events = json.loads(lines[0]), json.loads(lines[1]), [json.loads(x) for x in lines[2:]]
        assert meta["format"] == "silo.episode.jsonl" and meta["events"] == len(events) > 0
        ep = episode_io.read(f)
        assert ep.id == record["id"] == meta["id"] == episode_io.episode_id(f) and ep.status == meta["status"]
        assert [e.model_dump(exclude_none=True) for e in ep.events] == events  # one event per line, in order
        assert list(episode_io.events(f)) == ep.events
        assert episode_io.header(f) == ep.model_dump(mode="json", exclude={"events"}, exclude_none=True)
        assert episode_io.load_dict(f) == ep.model_dump(mode="json", exclude_none=True)
    assert RunDir(run).statuses() == {episode_io.episode_id(f): episode_io.read(f).status for f in files}


def test_old_json_files_read_and_score_the_same_as_converted(tmp_path):
    old = _copy(LLM_RUN, tmp_path / "old")
    new = _copy(LLM_RUN, tmp_path / "new")
    eps = list(RunDir(old).episodes())
    assert eps and RunDir(old).statuses() == {e.id: e.status for e in eps}
    for f in RunDir(new).episode_files():
        f.unlink()
    for ep in eps:
        RunDir(new).write_episode(ep)
    assert [f.name.endswith(".jsonl.gz") for f in RunDir(new).episode_files()] == [True] * len(eps)
    assert list(RunDir(new).episodes()) == eps
    score_run(RunDir(old))
    score_run(RunDir(new))
    assert _scores(old) == _scores(new)
    assert list(episode_io.events(RunDir(old).episode_files()[0])) == eps[0].events


def test_a_mixed_directory_resumes_merges_and_a_new_file_wins_over_an_old_one(run, tmp_path):
    mixed = _copy(run, tmp_path / "mixed")
    files = RunDir(mixed).episode_files()
    olds = [_to_old(f) for f in files[:4]]
    assert sorted(f.name for f in RunDir(mixed).episode_files()) == sorted(
        [f.name for f in olds] + [f.name for f in files[4:]])
    res = _cli("resume", mixed, "--no-progress", "--no-preflight")
    assert res.exit_code == 0 and "8 done, 0 to run" in res.output, res.output
    assert _scores(mixed) == _scores(run)
    # an id with both files (a rewrite killed between its rename and the old file's removal): the new one counts
    stale = olds[0].read_text().replace('"status":"complete"', '"status":"error"')
    new = episode_io.path_for(olds[0].parent, episode_io.episode_id(olds[0]))
    shutil.copy(run / "episodes" / new.name, new)
    olds[0].write_text(stale)
    assert new in RunDir(mixed).episode_files() and olds[0] not in RunDir(mixed).episode_files()
    assert RunDir(mixed).statuses()[episode_io.episode_id(new)] == "complete"
    # merge: a completed copy of either format beats an errored one, and one file per id is left
    errored = _copy(run, tmp_path / "errored")
    victim = RunDir(errored).episode_files()[5]
    ep = episode_io.read(victim)
    ep.status, ep.error = "error", "AgentFailure: test"
    RunDir(errored).write_episode(ep)
    out = tmp_path / "merged"
    assert merge_runs(RunDir(out), [RunDir(errored), RunDir(mixed)]) >= 1
    merged = RunDir(out).episode_files()
    assert len(merged) == len(list((out / "episodes").iterdir())) == 8
    assert RunDir(out).statuses() == RunDir(run).statuses()
    assert sorted(e.id for e in RunDir(out).episodes()) == sorted(e.id for e in RunDir(run).episodes())


def test_cut_short_and_damaged_gz_files_are_moved_aside_and_rerun(run, tmp_path):
    out = _copy(run, tmp_path / "r")
    files = RunDir(out).episode_files()
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])  # the first line still reads: the trailer check catches it
    files[1].write_bytes(data[:5])  # cut inside the first line
    files[2].write_bytes(b"{not gzip")
    old = _to_old(files[3])
    old.write_text(old.read_text()[:100])  # an old-format file cut short, beside the new ones
    files[3] = old
    for f in files[:4]:
        with pytest.raises(ValueError):
            episode_io.status(f)
        with pytest.raises(ValueError):
            episode_io.read(f)
    rd = RunDir(out)
    assert len(list(rd.episodes())) == 4 and len(rd.skipped) == 4  # skipped, named, never fatal
    res = _cli("resume", out, "--no-progress", "--no-preflight")
    assert res.exit_code == 0 and "4 done, 4 to run" in res.output, res.output
    damaged = sorted(p.name for p in (out / "damaged").iterdir())
    assert sorted(".jsonl.gz" if n.endswith(".jsonl.gz") else n[-5:] for n in damaged) == [".json"] + [".jsonl.gz"] * 3
    assert all(f.name.endswith(".jsonl.gz") for f in RunDir(out).episode_files())  # re-run in the new format
    assert _scores(out) == _scores(run)


def test_a_file_damaged_inside_with_its_length_intact_is_moved_aside_and_rerun(run, tmp_path):
    out = _copy(run, tmp_path / "r")
    f = RunDir(out).episode_files()[0]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the events; first line and gzip trailer intact
    f.write_bytes(bytes(data))
    assert episode_io.meta(RunDir(run).episode_files()[0])["zcrc32"]  # the undamaged copy passes
    with pytest.raises(ValueError, match="damaged"):
        episode_io.status(f)
    res = _cli("resume", out, "--no-progress", "--no-preflight")
    assert res.exit_code == 0 and "7 done, 1 to run" in res.output, res.output
    assert [p.name.split(".")[0] for p in (out / "damaged").iterdir()] == [f.name.split(".")[0]]
    assert _scores(out) == _scores(run)


def test_a_writer_killed_mid_write_leaves_whole_files_or_none(run, tmp_path):
    """SIGKILL a process rewriting a large episode over and over: the file is always whole (old or new)."""
    d = tmp_path / "r"
    big = max(RunDir(run).episodes(), key=lambda e: len(e.events))
    big.events = big.events * 60
    src = tmp_path / "big"
    (src / "episodes").mkdir(parents=True)
    RunDir(src).write_episode(big)
    code = ("import sys; from silo.rundir import RunDir; ep = next(RunDir(sys.argv[1]).episodes()); "
            "rd = RunDir(sys.argv[2]); rd.episodes_dir.mkdir(parents=True, exist_ok=True); print('go', flush=True)\n"
            "while True:\n    rd.write_episode(ep)")
    for delay in (0.05, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", code, str(src), str(d)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "go"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        RunDir(d).clean_stale()
        assert not list((d / "episodes").glob(".*.tmp"))
        for f in RunDir(d).episode_files():
            assert episode_io.read(f) == big
    assert RunDir(d).statuses() == {big.id: big.status}


def test_convert_run_rewrites_old_files_in_place_with_the_same_episodes(run, tmp_path):
    out = _copy(run, tmp_path / "r")
    for f in RunDir(out).episode_files()[:5]:
        _to_old(f)
    before = list(RunDir(out).episodes())
    script = Path(__file__).resolve().parents[1] / "scripts" / "convert_run.py"
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("converted 5 episode files"), proc.stderr
    assert all(f.name.endswith(".jsonl.gz") for f in (out / "episodes").iterdir())
    assert list(RunDir(out).episodes()) == before
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a run directory" in proc.stderr


def test_record_lines_parse_as_json_loads_with_equal_answers_shared():
    from silo import record_line

    m = [[3, 6, 10], [1, 3, 1]]
    line = json.dumps({"id": "x", "instance": {"truth": [m, m, m, 5, 50, 5]},
                       "submissions": [{"agent": 0, "round": 3, "answer": m}, {"agent": 1, "round": 3, "answer": m},
                                       {"agent": 4, "round": 4, "answer": 5}, {"agent": 5, "round": 4, "answer": 5}]},
                      separators=(",", ":")).encode()
    d = record_line.loads(line)
    assert d == json.loads(line)
    truth, subs = d["instance"]["truth"], d["submissions"]
    assert truth[0] is truth[1] is truth[2] is subs[0]["answer"] is subs[1]["answer"]
    assert truth[4] == 50 and truth[3] is not truth[4]  # "5" is a prefix of "50", not the same value
    cases = [line, line.replace(b",", b" ,\n "), line.replace(b":", b" : "), b' {"a":1} ', b"{}", b'{"a":1}{',
             b'{"truth":[1,1]}', b'{"instance":{"truth":[[1],[1],[1, 2]]},"submissions":[{"answer":[1]}]}',
             b'{"a":1,"a":2}', b'{"instance":{"truth":[1,1,]}}', b'{"instance":[]}', b'{1:2}', b'[1]', b'"s"',
             b"", b"{", b'{"a":NaN}', b'{"instance":{"truth":["\\ud800","\\ud800"]}}', "{\"é\":1}".encode()]
    for text in cases:
        assert_reads_like_json_loads(record_line.loads, text)


def test_read_scored_gives_the_scored_kinds_of_read_and_the_same_scores(run, tmp_path):
    from silo.records import LEAN_SKIPPED, Event
    from silo.scoring import SCORED_KINDS, score_episode

    old = _copy(run, tmp_path / "old")
    for f in RunDir(old).episode_files()[:3]:
        _to_old(f)
    for f in RunDir(run).episode_files() + RunDir(old).episode_files():
        full, lean = episode_io.read(f), episode_io.read_scored(f, SCORED_KINDS)
        want = [e for e in full.events if e.kind in SCORED_KINDS]
        assert len(lean.events) == len(want) > 0
        for a, b in zip(lean.events, want, strict=True):
            assert a.model_dump() == b.model_dump(exclude=None if type(a) is Event else set(LEAN_SKIPPED))
        assert lean.model_dump(exclude={"events"}) == full.model_dump(exclude={"events"})
        assert score_episode(lean) == score_episode(full)
    with pytest.raises(ValueError):  # a damaged file is refused as read() refuses it
        bad = tmp_path / "bad" / RunDir(run).episode_files()[0].name
        bad.parent.mkdir()
        bad.write_bytes(RunDir(run).episode_files()[0].read_bytes()[:300])
        episode_io.read_scored(bad, SCORED_KINDS)
