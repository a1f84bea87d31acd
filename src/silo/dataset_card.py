"""Dataset cards of the published datasets: configs, field meanings, metrics, provenance, citation."""

from __future__ import annotations

from datasets import Features, List, Value
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

METRICS = """\
Per agent i (silo's measurement of information held; see the silo docs):
- **correct**: the answer equals the truth (floats within the task's tolerance).
- **partial** q_i: level I 1/0; level II share of correct elements of the agent's answer;
  level III longest common subsequence with the truth / its length.
- **reach**(i): share of depends_on(i) whose shard can have reached i by its submission along a
  time-respecting chain of deliveries (messages, broadcasts, files written then read). Exact, content-free.
- **evidence**(i): share of depends_on(i) whose information demonstrably arrived in content i observed
  (raw shard items, or the task's sufficient statistic of a set of upstream shards).
- **held**(i) = reach = 1 and evidence = 1.
- **outcome**, exactly one: correct (held); lucky (correct without held); no_answer; uninformed
  (reach < 1: premature submission); relay_loss (reach = 1, evidence < 1, wrong); integration_error
  (held, wrong: the communication-reasoning gap).

Per episode: success S = mean correct; partial P = mean q_i; held H = mean held; solved (S = 1);
consensus_failure (global task, more than one distinct answer); density D = messages / (N(N-1))
(under the shared file system, reads by other agents of files an agent wrote); errored episodes
have null S, P and H and are never scored as wrong.
"""

CITATION = """\
@inproceedings{zhang2026silobench,
  title         = {Silo-Bench: A Scalable Environment for Evaluating Distributed Coordination
                   in Multi-Agent {LLM} Systems},
  author        = {Zhang and others},
  booktitle     = {Proceedings of the Annual Meeting of the Association for Computational Linguistics (ACL)},
  year          = {2026},
  eprint        = {2603.01045},
  archivePrefix = {arXiv}
}"""

SUMMARIES = {
    "instances": "Task instances (every agent's shard and the per-agent truth). One config per task, "
                 "one split per number of agents N (split `nN`).",
    "episodes": "Episode transcripts: config, instance, the full event log and the submissions. "
                "One config per task, one split per N (split `nN`).",
    "results": "Scores: `agent_scores` (one row per agent), `episode_scores` (one row per episode) and, "
               "when present, `leaderboard` rows.",
}


ALL = "all"  # the config spanning every task (the default: load_dataset without a config name)
DEFAULT = {"instances": ALL, "episodes": ALL, "results": "episode_scores"}
SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M")]


def size_category(rows: int) -> str:
    """The hub's size_categories bucket of a row count."""
    return next((label for limit, label in SIZES if rows < limit), "n>10M")


def _all_config(splits: dict[str, dict[str, int]], sizes: dict) -> tuple[dict, dict]:
    """Rows and sizes per split of the config spanning every per-task config."""
    rows: dict[str, int] = {}
    nbytes: dict[str, tuple[int, int]] = {}
    for c, ss in splits.items():
        for sp, n in ss.items():
            rows[sp] = rows.get(sp, 0) + n
            a, b = nbytes.get(sp, (0, 0))
            x, y = sizes.get(c, {}).get(sp, (0, 0))
            nbytes[sp] = (a + x, b + y)
    order = sorted(rows, key=lambda sp: (len(sp), sp))
    return {sp: rows[sp] for sp in order}, {sp: nbytes[sp] for sp in order}


def render_card(kind: str, name: str, splits: dict[str, dict[str, int]], feats: dict[str, Features],
                fields: dict[str, list[tuple]], meta: dict, sizes: dict | None = None) -> str:
    """README.md of one dataset: YAML front matter (configs, explicit features, splits with their sizes,
    hub metadata) and a readable body."""
    sizes = sizes or {}
    total = sum(n for ss in splits.values() for n in ss.values())
    data = DatasetCardData(license="mit", pretty_name=f"{name} {kind}", language=["en"],
                           task_categories=["text-generation", "question-answering"],
                           size_categories=[size_category(total)],
                           tags=["benchmark", "multi-agent", "llm", "distributed-computation", "agents"])
    files = {c: {s: f"{c}/{s}-00000-of-00001.parquet" for s in ss} for c, ss in splits.items()}
    all_splits, all_sizes = splits, sizes
    if DEFAULT[kind] == ALL:
        all_rows, all_bytes = _all_config(splits, sizes)
        files = {ALL: {sp: [files[c][sp] for c in splits if sp in splits[c]] for sp in all_rows}, **files}
        all_splits, all_sizes = {ALL: all_rows, **splits}, {ALL: all_bytes, **sizes}
        feats = {ALL: next(iter(feats.values())), **feats}
    configs = {c: {"data_files": [{"split": s, "path": p} for s, p in ss.items()],
                   **({"default": True} if c == DEFAULT[kind] else {})} for c, ss in files.items()}
    MetadataConfigs(configs).to_dataset_card_data(data)
    infos = {}
    for c, ss in all_splits.items():
        sd = SplitDict()
        for s, rows in ss.items():
            sd.add(SplitInfo(name=s, num_examples=rows, num_bytes=all_sizes.get(c, {}).get(s, (0, 0))[0]))
        b = all_sizes.get(c, {})
        infos[c] = DatasetInfo(features=feats[c], splits=sd, dataset_size=sum(x for x, _ in b.values()),
                               download_size=sum(y for _, y in b.values()))
    DatasetInfosDict(infos).to_dataset_card_data(data)
    body = "\n".join([
        f"# {name}: {kind}", "", SUMMARIES[kind], "",
        "Published by `silo`, which reproduces and extends Silo-Bench (see Citation). "
        "Values that are nested or vary in shape are JSON strings "
        "(decode with `json.loads`), so every split has the same schema.", "",
        "## Loading", "", "```python", "from datasets import load_dataset", *_load_lines(kind, splits, meta), "```",
        "", _configs_table(splits), "",
        *(_conversation_section(meta, _split_of(all_splits)) if kind == "episodes" else []),
        *_fields_sections(fields), "## Metrics", "", METRICS,
        "## Task versions", "", _tasks_table(meta.get("tasks", [])), "",
        "## Provenance", "", *_provenance(meta), "", "## Citation", "",
        "The benchmark design reproduced here is from Zhang et al., \"Silo-Bench: A Scalable Environment for "
        "Evaluating Distributed Coordination in Multi-Agent LLM Systems\", arXiv 2603.01045, ACL 2026.", "",
        "```bibtex", CITATION, "```", "",
    ])
    return str(DatasetCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + body))


CONVERSATION = """\
import json
from datasets import load_dataset

episodes = load_dataset("{repo}", split="{split}")  # the default config: every task


def requests_of(episode):
    \"\"\"agent id -> the exact message list of each of its model calls (warm-up requests included).\"\"\"
    out, last = {{}}, {{}}
    for event in episode["events"]:
        if event["kind"] != "model_call":
            continue
        data = json.loads(event["data"])
        if "prefix_len" not in data:
            continue
        agent = event["agent"]
        last[agent] = last.get(agent, [])[: data["prefix_len"]] + data["messages"]
        out.setdefault(agent, []).append(last[agent])
    return out


for agent, requests in requests_of(episodes[0]).items():
    print(agent, len(requests), "requests; the last one:", requests[-1] if requests else None)
"""


def _split_of(splits: dict[str, dict[str, int]]) -> str:
    """The split the snippet loads: the smallest N >= 2 (a team that talked), else the first."""
    names = sorted({sp for ss in splits.values() for sp in ss}, key=lambda sp: int(sp[1:]))
    return next((sp for sp in names if int(sp[1:]) >= 2), names[0])


def _conversation_section(meta: dict, split: str) -> list[str]:
    repo = f"{meta['repo']}-episodes" if meta.get("repo") else "ORG/NAME-episodes"
    return ["## Rebuilding a conversation", "",
            "Every model call of an LLM agent is one `model_call` event whose `data` (a JSON string) stores the "
            "request as a delta: keep the first `prefix_len` messages of the same agent's previous request, then "
            "append `messages`. So request k is `full[k] = full[k-1][:prefix_len] + messages` (`full[0] = []`). "
            "The first request carries the system prompt with the agent's private data; a request with "
            "`purpose` \"prefill\" (`max_tokens` 1) is a warm-up whose reply is ignored. The reply is "
            "`data[\"response\"]`. With `datasets` alone:", "",
            "```python", CONVERSATION.format(repo=repo, split=split).rstrip(), "```", ""]


def _load_lines(kind: str, splits: dict[str, dict[str, int]], meta: dict) -> list[str]:
    repo = f"{meta['repo']}-{kind}" if meta.get("repo") else f"ORG/NAME-{kind}"
    config = next(iter(splits))
    split = next(iter(splits[config]))
    if DEFAULT[kind] == ALL:
        return [f'ds = load_dataset("{repo}", split="{split}")  # every task (config "{ALL}", the default)',
                f'one = load_dataset("{repo}", "{config}", split="{split}")  # one task']
    return [f'ds = load_dataset("{repo}", "{config}", split="{split}")']


def _configs_table(splits: dict[str, dict[str, int]]) -> str:
    lines = ["## Configs and splits", "", "| config | split | rows |", "|---|---|---|"]
    lines += [f"| {c} | {s} | {n} |" for c, ss in splits.items() for s, n in ss.items()]
    return "\n".join(lines)


def _fields_sections(fields: dict[str, list[tuple]]) -> list[str]:
    out = []
    seen: set[int] = set()
    for flist in fields.values():
        if id(flist) in seen:
            continue
        seen.add(id(flist))
        same = [c for c, f in fields.items() if f is flist]
        title = "every config" if len(same) == len(fields) else ", ".join(f"`{c}`" for c in same)
        out += [f"## Fields ({title})", "", "| field | type | meaning |", "|---|---|---|"]
        out += [f"| {n} | {_type_name(f)} | {d} |" for n, f, d in flist]
        out.append("")
    return out


def _type_name(feat) -> str:
    if isinstance(feat, Value):
        return feat.dtype
    if isinstance(feat, List):
        return f"list of {_type_name(feat.feature)}"
    if isinstance(feat, dict):
        return "struct{" + ", ".join(f"{k}: {_type_name(v)}" for k, v in feat.items()) + "}"
    return type(feat).__name__


def _tasks_table(tasks: list[dict]) -> str:
    lines = ["| task | name | level | version | answer |", "|---|---|---|---|---|"]
    lines += [f"| {t['id']} | {t['name']} | {t['level']} | {t['version']} | {t['answer_kind']} |" for t in tasks]
    return "\n".join(lines)


def _provenance(meta: dict) -> list[str]:
    lines = [f"- silo package version: `{meta.get('silo_version')}`",
             f"- silo git commit that published: `{meta.get('git') or 'unknown'}`",
             f"- run produced by silo `{meta.get('run_silo_version')}`, git commit `{meta.get('run_git') or '?'}`",
             f"- record schema version: {meta.get('schema_version')} (instances, scores); episodes as written: "
             "the `schema_version` column of the episodes dataset (2: one deliver event per receive; 1: one per "
             "message)"]
    if meta.get("run"):
        lines.append(f"- run sweep: `{meta['run']}`")
    return lines
