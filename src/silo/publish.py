"""Publish a run as three Hugging Face datasets (instances, episodes, results) and load instances back.

`publish_run` writes hub-ready folders offline: DIR/<kind>/README.md (dataset card) and one parquet file per
config and split, DIR/<kind>/<config>/<split>-00000-of-00001.parquet. `upload` pushes them to
ORG/NAME-<kind> with the user's token. `load_instances` reads instances back from a folder or a hub id,
exactly (model equality with the generated instances).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from silo import __version__
from silo.dataset_card import ALL, render_card
from silo.dataset_rows import (
    AGENT_SCORE_FIELDS,
    EPISODE_FIELDS,
    EPISODE_SCORE_FIELDS,
    INSTANCE_FIELDS,
    episode_row,
    features,
    instance_row,
    leaderboard_table,
    row_to_episode,
    row_to_instance,
    score_rows,
)
from silo.records import EPISODE_SCHEMA_VERSION, SCHEMA_VERSION, Episode, EpisodeConfig, EpisodeScore, Instance
from silo.runner import RunDir, score_safely
from silo.scrub import REDACTED, SECRET_NAME, scrub, secret_values  # noqa: F401 - importable from here as before
from silo.tasks import UnknownTaskError, all_tasks, get_task

KINDS = ("instances", "episodes", "results")


class PublishError(ValueError):
    """A run that cannot be published, or a dataset that cannot be loaded."""


def _js(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---- publishing -------------------------------------------------------------------------------------
def _task_order(task_id: str) -> tuple:
    order = {t.id: i for i, t in enumerate(all_tasks())}
    return (order.get(task_id, len(order)), task_id)


def collect(run_dir: str | os.PathLike) -> tuple[dict, dict, list[tuple[EpisodeScore, EpisodeConfig]], dict]:
    """Instances and episode rows grouped by task then split, the scores (with each episode's config), and
    run metadata."""
    rd = RunDir(run_dir)
    if not (rd.path / "config.json").is_file():
        raise PublishError(f"not a run directory (no config.json): {rd.path}")
    instances: dict = defaultdict(lambda: defaultdict(dict))
    episodes: dict = defaultdict(lambda: defaultdict(list))
    scores = []
    for ep in rd.episodes():
        inst = ep.instance
        split = f"n{inst.n_agents}"
        instances[inst.task][split][inst.id] = instance_row(inst)
        episodes[inst.task][split].append(episode_row(ep))
        scores.append((score_safely(ep), ep.config))
    if not scores:
        raise PublishError(f"run directory has no episodes: {rd.path}")
    scores.sort(key=lambda s: s[0].episode_id)
    return instances, episodes, scores, json.loads((rd.path / "config.json").read_text())


def _ordered(groups: dict, rows_of) -> dict[str, dict[str, list[dict]]]:
    return {task: {s: rows_of(groups[task][s]) for s in sorted(groups[task], key=lambda s: int(s[1:]))}
            for task in sorted(groups, key=_task_order)}


def publish_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, leaderboard: str | os.PathLike | None = None,
                name: str = "silo", repo: str | None = None) -> dict[str, Path]:
    """Write the three hub-ready dataset folders under out_dir; returns their paths by kind."""
    instances, episodes, scores, run_meta = collect(run_dir)
    secrets = secret_values()
    out = Path(out_dir)
    tasks = {}
    for task, splits in instances.items():
        row = next(iter(next(iter(splits.values())).values()))
        try:
            t = get_task(task)
            tname, kind = t.name, t.answer_kind
        except UnknownTaskError:
            tname, kind = "?", row["answer_kind"]
        tasks[task] = {"id": task, "name": tname, "level": row["level"], "version": row["task_version"],
                       "answer_kind": kind}
    meta = {"silo_version": __version__, "git": _git_hash(), "run_silo_version": run_meta.get("silo_version"),
            "run_git": run_meta.get("git"), "schema_version": SCHEMA_VERSION,
            "episode_schema_version": EPISODE_SCHEMA_VERSION, "repo": repo,
            "run": _js(run_meta.get("run", {})), "tasks": [tasks[t] for t in sorted(tasks, key=_task_order)]}
    meta = scrub(meta, secrets)
    inst_tables = _ordered(instances, lambda d: [d[k] for k in sorted(d)])
    ep_tables = _ordered(episodes, lambda rows: sorted(rows, key=lambda r: r["id"]))
    ep_rows = [score_rows(s, c) for s, c in scores]
    res_tables = {"agent_scores": {"train": [a for _, ags in ep_rows for a in ags]},
                  "episode_scores": {"train": [e for e, _ in ep_rows]}}
    res_fields = {"agent_scores": AGENT_SCORE_FIELDS, "episode_scores": EPISODE_SCORE_FIELDS}
    if leaderboard is not None:
        try:
            rows, fields = leaderboard_table(json.loads(Path(leaderboard).read_text()))
        except (OSError, ValueError) as e:
            raise PublishError(f"cannot read leaderboard {leaderboard}: {e}") from e
        res_tables["leaderboard"], res_fields["leaderboard"] = {"train": rows}, fields
    written = {}
    for kind, tables, fields in (("instances", inst_tables, dict.fromkeys(inst_tables, INSTANCE_FIELDS)),
                                 ("episodes", ep_tables, dict.fromkeys(ep_tables, EPISODE_FIELDS)),
                                 ("results", res_tables, res_fields)):
        written[kind] = write_dataset(out / kind, kind, name, scrub(tables, secrets), fields, meta)
    return written


@contextmanager
def _quiet():
    """No datasets progress bars while silo writes or reads (restored afterwards)."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            datasets.enable_progress_bars()


def write_dataset(folder: Path, kind: str, name: str, tables: dict[str, dict[str, list[dict]]],
                  fields: dict[str, list[tuple]], meta: dict) -> Path:
    """One parquet file per config and split (built with `datasets`), and the dataset card."""
    import pyarrow as pa
    from datasets import Dataset
    from datasets.info import DatasetInfo
    from datasets.table import InMemoryTable

    folder.mkdir(parents=True, exist_ok=True)
    feats = {c: features(f) for c, f in fields.items()}
    sizes: dict[str, dict[str, tuple[int, int]]] = {}  # config -> split -> (arrow bytes, parquet file bytes)
    with _quiet():
        for config, splits in tables.items():
            for split, rows in splits.items():
                path = folder / config / f"{split}-00000-of-00001.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                # via an explicit arrow schema: Dataset.from_list cannot hold uint64 seeds above 2**63
                table = pa.Table.from_pylist(rows, schema=feats[config].arrow_schema)
                info = DatasetInfo(features=feats[config])
                Dataset(InMemoryTable(table), info=info, fingerprint=f"{config}-{split}").to_parquet(str(path))
                sizes.setdefault(config, {})[split] = (table.nbytes, path.stat().st_size)
    counts = {c: {s: len(r) for s, r in ss.items()} for c, ss in tables.items()}
    (folder / "README.md").write_text(render_card(kind, name, counts, feats, fields, meta, sizes))
    return folder


def hub_token(repo: str) -> str:
    """Check the repo name and return the user's token (HF_TOKEN or the hub login); clear error if none."""
    from huggingface_hub import get_token

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise PublishError(f"--repo must look like ORG/NAME, got {repo!r}")
    token = get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    return token


def upload(out_dir: str | os.PathLike, repo: str, private: bool = False) -> list[str]:
    """Upload each dataset folder to ORG/NAME-<kind> with the user's token (HF_TOKEN or the hub login)."""
    from huggingface_hub import HfApi

    api = HfApi(token=hub_token(repo))
    urls = []
    for kind in KINDS:
        folder = Path(out_dir) / kind
        if not (folder / "README.md").is_file():
            continue
        repo_id = f"{repo}-{kind}"
        try:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                              commit_message=f"silo {__version__}: publish {kind}")
        except Exception as e:  # noqa: BLE001 - hub errors become one clear line (they never carry the token)
            raise PublishError(f"upload of {repo_id} failed: {type(e).__name__}: {str(e).splitlines()[0]}") from e
        urls.append(f"https://huggingface.co/datasets/{repo_id}")
    return urls


# ---- loading ----------------------------------------------------------------------------------------
def _source(source: str, kind: str) -> str:
    """A local dataset folder (or a publish folder holding <kind>/), else a hub id."""
    p = Path(source)
    if (p / "README.md").is_file():
        return str(p)
    if (p / kind / "README.md").is_file():
        return str(p / kind)
    if p.exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+", source):
        raise PublishError(f"not a dataset folder (no README.md or {kind}/README.md) nor a hub id ORG/NAME: {source!r}")
    return source


def _data_files(src: str) -> tuple[dict[str, dict[str, str]], Any]:
    """{config: {split: parquet path}} from the card's `configs:` section, and a fetcher of those paths."""
    from huggingface_hub import DatasetCard, hf_hub_download

    local = Path(src).is_dir()
    try:
        card = DatasetCard.load(Path(src) / "README.md" if local else src, repo_type="dataset")
        configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]}
                   for c in card.data.to_dict()["configs"]}
    except (KeyError, TypeError) as e:
        raise PublishError(f"{src}: dataset card has no silo `configs:` section ({e})") from e

    def fetch(rel: str) -> str:
        return str(Path(src) / rel) if local else hf_hub_download(src, rel, repo_type="dataset")

    return configs, fetch


def _load_rows(source: str, kind: str, task: str | None, n: int | None) -> list[dict]:
    """Rows of the selected configs (tasks) and splits (nN), read straight from the parquet files.

    Not via datasets.load_dataset: its cache key for a local folder ignores the files' content and place, so
    it can serve the rows of another folder of the same name published earlier."""
    import pyarrow.parquet as pq

    src = _source(source, kind)
    configs, fetch = _data_files(src)
    if task is not None:
        tid = get_task(task).id
        if tid not in configs:
            raise PublishError(f"{src} has no config {tid}; it has: {', '.join(configs)}")
        configs = {tid: configs[tid]}
    rows = []
    for config, splits in configs.items():
        if config == ALL and task is None and len(configs) > 1:
            continue  # the config spanning every task holds the same files as the per-task configs
        for split in splits if n is None else [f"n{n}"] if f"n{n}" in splits else []:
            for f in [splits[split]] if isinstance(splits[split], str) else splits[split]:
                rows.extend(pq.read_table(fetch(f)).to_pylist())
    if not rows:
        raise PublishError(f"no {kind} in {src} for task={task} n={n}")
    return rows


def load_instances(source: str, task: str | None = None, n: int | None = None, verify: bool = True) -> list[Instance]:
    """Instances of a published dataset (folder or hub id), optionally one task and one N.

    With verify, each instance's task version must match the installed generator and its truth must equal
    the installed reference solver's, so a run on them is the published benchmark exactly."""
    out = []
    for row in _load_rows(source, "instances", task, n):
        inst = row_to_instance(row)
        if verify:
            _verify(inst)
        out.append(inst)
    return sorted(out, key=lambda i: (_task_order(i.task), i.n_agents, i.suite_seed, i.replicate))


def _verify(inst: Instance) -> None:
    try:
        t = get_task(f"{inst.task}@{inst.task_version}")
    except UnknownTaskError:
        t = get_task(inst.task)
    if t.version != inst.task_version:
        raise PublishError(f"{inst.id} was published with {inst.task} v{inst.task_version}, but this silo has "
                           f"v{t.version}: install the silo version named in the dataset card")
    truth = t.solve([s.data for s in inst.shards], inst.params)
    if _js(truth) != _js(inst.truth):
        raise PublishError(f"{inst.id}: published truth differs from the reference solver's")


def load_episodes(source: str, task: str | None = None, n: int | None = None) -> list[Episode]:
    """Episode records of a published episodes dataset (re-scorable offline)."""
    return sorted((row_to_episode(r) for r in _load_rows(source, "episodes", task, n)), key=lambda e: e.id)
