"""Publishing: a small run becomes three hub-ready datasets that load back offline, exactly, and secret-free."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before datasets is imported: no test here may touch the network

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from datasets import get_dataset_config_names, load_dataset

from silo import episode_io
from silo.cli import main
from silo.dataset_rows import INSTANCE_FIELDS
from silo.publish import (
    REDACTED,
    PublishError,
    instance_row,
    load_episodes,
    load_instances,
    publish_run,
    upload,
    write_dataset,
)
from silo.records import Event
from silo.scoring import SCORER_VERSION
from silo.tasks import all_tasks, get_task

PLANTED = {"OPENAI_API_KEY": "sk-PLANTED-openai-3f9a1c7e5b", "HF_TOKEN": "hf_PLANTEDtoken8d2e6a4c0b9f"}


def _one_task_per_level() -> list[str]:
    seen: dict[int, str] = {}
    for t in all_tasks():
        seen.setdefault(t.level, t.id)
    return list(seen.values())


def _plant_leak(run: Path) -> str:
    """An agent echoes a key into a message and a note: the publisher must redact it."""
    f = next(f for f in episode_io.files(run / "episodes") if "-p2p-oracle-" in f.name and "-n3-" in f.name)
    ep = episode_io.read(f)
    send = next(e for e in ep.events if e.kind == "send")
    send.content = send.content + " " + PLANTED["OPENAI_API_KEY"]
    ep.events.append(Event(round=ep.rounds, agent=0, kind="note", data={"text": "token " + PLANTED["HF_TOKEN"]}))
    f.unlink()  # written unredacted, as an old-format file: the run directory mixes both formats
    (f.parent / f"{ep.id}.json").write_text(ep.model_dump_json())
    return ep.id


@pytest.fixture(scope="module")
def pub(tmp_path_factory):
    """(run dir, publish dir, leaked episode id): a scripted run over one task per level, published via the CLI."""
    root = tmp_path_factory.mktemp("pub")
    run, out = root / "run", root / "hf"
    tasks = ",".join(_one_task_per_level())
    res = CliRunner().invoke(main, ["run", "--team", "oracle,premature,silent", "--task", tasks, "--n", "1,3",
                                    "--max-rounds", "8", "--no-progress", "-o", str(run)])
    assert res.exit_code == 0, res.output
    leaked = _plant_leak(run)
    lb = root / "leaderboard.json"
    lb.write_text(json.dumps([{"model": "m1", "S": 0.5, "n": 3, "by_level": {"1": 0.7}},
                              {"model": "m2", "S": 1, "n": 2, "by_level": None}]))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in PLANTED.items():
            mp.setenv(k, v)
        res = CliRunner().invoke(main, ["publish", str(run), "--to-dir", str(out), "--leaderboard", str(lb)])
    assert res.exit_code == 0, res.output
    return run, out, leaked


def _episode_files(run: Path) -> list[dict]:
    return [episode_io.load_dict(f) for f in episode_io.files(run / "episodes")]


def _load(folder: Path, config: str, tmp_path) -> dict:
    return load_dataset(str(folder), config, cache_dir=str(tmp_path / "cache"))


def test_every_config_loads_offline_with_source_row_counts(pub, tmp_path):
    run, out, _ = pub
    eps = _episode_files(run)
    want_eps = Counter((e["instance"]["task"], f"n{e['instance']['n_agents']}") for e in eps)
    distinct = {(e["instance"]["task"], f"n{e['instance']['n_agents']}", e["instance"]["id"]) for e in eps}
    want_inst = Counter((t, s) for t, s, _ in distinct)
    names = get_dataset_config_names(str(out / "instances"))
    assert [c for c in names if c != "all"] == sorted({t for t, _ in want_eps}, key=_task_key) and "all" in names
    for kind, want in (("instances", want_inst), ("episodes", want_eps)):
        got = Counter()
        for config in get_dataset_config_names(str(out / kind)):
            if config == "all":
                continue
            for split, ds in _load(out / kind, config, tmp_path).items():
                got[(config, split)] = len(ds)
        assert got == want, kind
        # no config name: the default config spans every task
        every = load_dataset(str(out / kind), cache_dir=str(tmp_path / "cache"))
        by_split = Counter()
        for (_, split), n in want.items():
            by_split[split] += n
        assert {split: len(ds) for split, ds in every.items()} == dict(by_split), kind
        assert {r["task"] for ds in every.values() for r in ds} == {t for t, _ in want}
    assert set(get_dataset_config_names(str(out / "results"))) == {"agent_scores", "episode_scores", "leaderboard"}
    assert len(_load(out / "results", "episode_scores", tmp_path)["train"]) == len(eps)
    assert len(_load(out / "results", "agent_scores", tmp_path)["train"]) == sum(e["instance"]["n_agents"] for e in eps)


def _task_key(tid: str) -> tuple:
    return get_task(tid).level, int(tid.split("-")[1])


def test_values_match_the_source_episode(pub, tmp_path):
    run, out, _ = pub
    src = next(e for e in _episode_files(run) if e["config"]["protocol"] == "sfs" and e["instance"]["n_agents"] == 3)
    split = _load(out / "episodes", src["instance"]["task"], tmp_path)["n3"]
    row = next(r for r in split if r["id"] == src["id"])
    assert (row["status"], row["rounds"], row["team"]) == (src["status"], src["rounds"], src["config"]["team"])
    assert len(row["events"]) == len(src["events"])
    write = next(i for i, e in enumerate(src["events"]) if e["kind"] == "write")
    assert row["events"][write]["content"] == src["events"][write]["content"]
    assert row["events"][write]["path"] == src["events"][write]["path"]
    assert [json.loads(s["answer"]) for s in row["submissions"]] == [s["answer"] for s in src["submissions"]]
    inst = next(r for r in _load(out / "instances", src["instance"]["task"], tmp_path)["n3"])
    assert [json.loads(s["data"]) for s in inst["shards"]] == [s["data"] for s in src["instance"]["shards"]]
    assert [json.loads(t) for t in inst["truth"]] == src["instance"]["truth"]
    assert inst["seed"] == src["instance"]["seed"]  # uint64: seeds above 2**63 survive
    lines = (run / "scores.jsonl").read_text().splitlines()
    scores = {json.loads(line)["episode_id"]: json.loads(line) for line in lines}
    agents = [r for r in _load(out / "results", "agent_scores", tmp_path)["train"] if r["episode_id"] == src["id"]]
    assert [a["outcome"] for a in agents] == [a["outcome"] for a in scores[src["id"]]["agents"]]


def test_every_split_of_a_dataset_has_one_schema(pub):
    _, out, _ = pub
    for kind in ("instances", "episodes"):
        schemas = {str(pq.read_schema(f).remove_metadata()) for f in (out / kind).rglob("*.parquet")}
        assert len(schemas) == 1, kind
    sch = pq.read_schema(next((out / "instances").rglob("*.parquet")))
    assert str(sch.field("shards").type) == "list<element: struct<agent: int64, data: string, text: string>>"
    assert str(sch.field("seed").type) == "uint64"


def test_dataset_cards_declare_configs_features_versions_and_citation(pub):
    _, out, _ = pub
    for kind in ("instances", "episodes", "results"):
        text = (out / kind / "README.md").read_text()
        front = yaml.safe_load(text.split("---")[1])
        files = sorted(str(p.relative_to(out / kind)) for p in (out / kind).rglob("*.parquet"))
        declared = sorted({p for c in front["configs"] for f in c["data_files"]
                           for p in ([f["path"]] if isinstance(f["path"], str) else f["path"])})
        assert declared == files, kind
        assert front["language"] == ["en"] and front["task_categories"] and front["size_categories"] == ["n<1K"]
        infos = front["dataset_info"] if isinstance(front["dataset_info"], list) else [front["dataset_info"]]
        assert all(i["features"] for i in infos)
        assert "2603.01045" in text and "Silo-Bench" in text and "ACL 2026" in text
        assert "silo package version: `0.1.0`" in text
        for tid in _one_task_per_level():
            assert f"| {tid} | {get_task(tid).name} | {get_task(tid).level} | {get_task(tid).version} |" in text
    ep_info = yaml.safe_load((out / "episodes" / "README.md").read_text().split("---")[1])["dataset_info"]
    ep_info = ep_info[0] if isinstance(ep_info, list) else ep_info
    assert [f["name"] for f in ep_info["features"]][:3] == ["id", "task", "task_version"]


def test_leaderboard_rows_are_published_generically(pub, tmp_path):
    _, out, _ = pub
    rows = list(_load(out / "results", "leaderboard", tmp_path)["train"])
    assert [r["model"] for r in rows] == ["m1", "m2"]
    assert [r["S"] for r in rows] == [0.5, 1.0]  # int and float mixed: one float column
    assert json.loads(rows[0]["by_level"]) == {"1": 0.7} and rows[1]["by_level"] is None


def test_no_secret_reaches_any_published_file(pub, tmp_path):
    _, out, leaked = pub
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    for p in files:
        raw = p.read_bytes()
        texts = [raw]
        if p.suffix == ".parquet":  # pages may be compressed: search the decoded values too
            texts.append(json.dumps(pq.read_table(p).to_pylist(), default=str).encode())
        for secret in PLANTED.values():
            assert all(secret.encode() not in t for t in texts), (secret, p)
    ep = next(e for e in load_episodes(str(out), n=3) if e.id == leaked)
    assert REDACTED in next(e for e in ep.events if e.kind == "send").content
    assert ep.events[-1].data["text"] == f"token {REDACTED}"


def test_load_instances_equals_generated(pub):
    run, out, _ = pub
    got = load_instances(str(out))
    ids = {e["instance"]["id"] for e in _episode_files(run)}
    assert sorted(i.id for i in got) == sorted(ids)
    for inst in got:
        assert inst == get_task(inst.task).make_instance(inst.n_agents, inst.suite_seed, inst.replicate)
    tid = _one_task_per_level()[-1]
    only = load_instances(str(out / "instances"), task=get_task(tid).slug, n=3)
    assert [(i.task, i.n_agents) for i in only] == [(tid, 3)]


def test_load_episodes_equals_the_run(pub):
    run, out, leaked = pub
    got = {e.id: e for e in load_episodes(str(out))}
    src = {ep.id: ep for ep in map(episode_io.read, episode_io.files(run / "episodes"))}
    assert set(got) == set(src)
    assert all(got[k] == src[k] for k in src if k != leaked)


def test_round_trip_of_every_registered_task(tmp_path):
    gen = [t.make_instance(n, 11, 1) for t in all_tasks() for n in (1, 2, 5)]
    tables: dict = {}
    for inst in gen:
        tables.setdefault(inst.task, {}).setdefault(f"n{inst.n_agents}", []).append(instance_row(inst))
    write_dataset(tmp_path / "instances", "instances", "t", tables, dict.fromkeys(tables, INSTANCE_FIELDS), {})
    got = load_instances(str(tmp_path))
    assert len(got) == len(gen)
    want = {i.id: i for i in gen}
    assert [i.id for i in got if i != want[i.id]] == []


def test_load_refuses_version_mismatch_and_tampered_truth(pub, tmp_path, monkeypatch):
    _, out, _ = pub
    tid = _one_task_per_level()[0]
    task = get_task(tid)
    monkeypatch.setattr(type(task), "version", task.version + 1)
    with pytest.raises(PublishError, match=f"this silo has v{task.version}"):
        load_instances(str(out), task=tid)
    monkeypatch.undo()
    row = instance_row(task.make_instance(2))
    row["truth"] = [json.dumps("tampered")] * 2
    write_dataset(tmp_path / "bad", "instances", "t", {tid: {"n2": [row]}}, {tid: INSTANCE_FIELDS}, {"tasks": []})
    with pytest.raises(PublishError, match="truth differs"):
        load_instances(str(tmp_path / "bad"))
    assert load_instances(str(tmp_path / "bad"), verify=False)[0].truth == ["tampered", "tampered"]


def test_load_errors_are_clear(pub, tmp_path):
    _, out, _ = pub
    with pytest.raises(PublishError, match="not a dataset folder"):
        load_instances(str(tmp_path / "missing"))
    with pytest.raises(PublishError, match="no instances"):
        load_instances(str(out), n=97)
    absent = next((t.id for t in all_tasks() if t.id not in _one_task_per_level()), None)
    if absent:
        with pytest.raises(PublishError, match=f"no config {absent}"):
            load_instances(str(out), task=absent)


def test_upload_needs_a_token_and_a_repo_name(pub, tmp_path, monkeypatch):
    _, out, _ = pub
    for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-login"))
    with pytest.raises(PublishError, match="no Hugging Face token"):
        upload(out, "someone/silo")
    res = CliRunner().invoke(main, ["publish", str(pub[0]), "--to-dir", str(tmp_path / "o"), "--repo", "a/b"])
    assert res.exit_code == 2 and "no Hugging Face token" in res.output
    assert not (tmp_path / "o").exists()  # nothing built when the upload cannot happen
    with pytest.raises(PublishError, match="ORG/NAME"):
        upload(out, "not a repo")


def test_upload_errors_never_show_the_token(pub, monkeypatch, capsys):
    _, out, _ = pub
    monkeypatch.setenv("HF_TOKEN", PLANTED["HF_TOKEN"])
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # the hub is never reached from tests
    res = CliRunner().invoke(main, ["publish", str(pub[0]), "--to-dir", str(out), "--repo", "someone/silo"])
    assert res.exit_code == 2 and "upload of someone/silo-instances failed" in res.output
    assert PLANTED["HF_TOKEN"] not in res.output + capsys.readouterr().err


def test_publish_bad_input(pub, tmp_path):
    res = CliRunner().invoke(main, ["publish", str(tmp_path / "nope"), "--to-dir", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a run directory" in res.output
    with pytest.raises(PublishError, match="cannot read leaderboard"):
        publish_run(pub[0], tmp_path / "o", leaderboard=tmp_path / "lb.json")
    (tmp_path / "lb.json").write_text("3")
    with pytest.raises(PublishError, match="leaderboard JSON must be"):
        publish_run(pub[0], tmp_path / "o", leaderboard=tmp_path / "lb.json")


def test_split_sizes_are_real_and_episode_scores_carry_models_and_limits(pub, tmp_path):
    run, out, _ = pub
    for kind in ("instances", "episodes", "results"):
        front = yaml.safe_load((out / kind / "README.md").read_text().split("---")[1])
        for info in front["dataset_info"] if isinstance(front["dataset_info"], list) else [front["dataset_info"]]:
            c = info["config_name"]
            for sp in info["splits"]:
                files = [out / kind / c / f"{sp['name']}-00000-of-00001.parquet"] if c != "all" else \
                    list((out / kind).glob(f"*/{sp['name']}-00000-of-00001.parquet"))
                table_bytes = sum(pq.read_table(f).nbytes for f in files)
                assert sp["num_bytes"] > 0 and 0.5 < sp["num_bytes"] / table_bytes < 2, (kind, c, sp)
                assert sp["num_examples"] == sum(pq.read_metadata(f).num_rows for f in files)
            assert info["dataset_size"] == sum(sp["num_bytes"] for sp in info["splits"])
            assert info["download_size"] > 0
    eps = {e["id"]: e for e in _episode_files(run)}
    rows = _load(out / "results", "episode_scores", tmp_path)["train"]
    for r in rows:
        cfg = eps[r["episode_id"]]["config"]
        assert (r["max_rounds"], r["action_budget"]) == (cfg["max_rounds"], cfg["action_budget"]) == (8, 10)
        assert r["models"] == []  # scripted teams
        assert r["scorer_version"] == SCORER_VERSION and r["task_version"] == eps[r["episode_id"]]["instance"][
            "task_version"]
    agents = _load(out / "results", "agent_scores", tmp_path)["train"]
    apart = Counter(a["episode_id"] for a in agents if a["self_contained"])
    assert all(r["set_apart"] == apart[r["episode_id"]] for r in rows) and sum(apart.values()) > 0


def test_conversation_rebuild_snippet_on_the_card_runs_with_datasets_alone(tmp_path):
    """The card's snippet, run as printed (only the repo id points at the local folder), rebuilds exactly the
    requests the embedded model received, as silo's own replay does."""
    import contextlib
    import io
    import re
    import shutil

    from silo.agents.llm_agent import replay_messages

    run = tmp_path / "llm_run"
    shutil.copytree(Path(__file__).parent / "data" / "llm_run", run)
    publish_run(run, tmp_path / "hf")
    card = (tmp_path / "hf" / "episodes" / "README.md").read_text()
    code = re.search(r"## Rebuilding a conversation.*?```python\n(.*?)```", card, re.S).group(1)
    assert "ORG/NAME-episodes" in code and "import silo" not in code and "from silo" not in code
    code = code.replace('"ORG/NAME-episodes", ', f'"{tmp_path / "hf" / "episodes"}", cache_dir="{tmp_path / "c"}", ')
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, "card-snippet", "exec"), ns)  # noqa: S102 - the card's own code, under test
    ep = episode_io.read(episode_io.files(run / "episodes")[0])
    got = ns["requests_of"](ns["episodes"][0])
    assert set(got) == set(range(ep.instance.n_agents))
    for agent in range(ep.instance.n_agents):
        assert got[agent] == replay_messages(ep.events, agent)
        assert ep.instance.shards[agent].text[:30] in got[agent][-1][0]["content"]  # private data in its prompt
    assert "requests; the last one:" in printed.getvalue()
