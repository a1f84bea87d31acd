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


def render_card(kind: str, name: str, splits: dict[str, dict[str, int]], feats: dict[str, Features],
                fields: dict[str, list[tuple]], meta: dict) -> str:
    """README.md of one dataset: YAML front matter (configs, explicit features, splits) and a readable body."""
    data = DatasetCardData(license="mit", pretty_name=f"{name} {kind}",
                           tags=["benchmark", "multi-agent", "llm", "distributed-computation"])
    configs = {c: {"data_files": [{"split": s, "path": f"{c}/{s}-00000-of-00001.parquet"} for s in ss]}
               for c, ss in splits.items()}
    MetadataConfigs(configs).to_dataset_card_data(data)
    infos = {}
    for c, ss in splits.items():
        sd = SplitDict()
        for s, rows in ss.items():
            sd.add(SplitInfo(name=s, num_examples=rows))
        infos[c] = DatasetInfo(features=feats[c], splits=sd)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    body = "\n".join([
        f"# {name}: {kind}", "", SUMMARIES[kind], "",
        "Published by `silo`, which reproduces and extends Silo-Bench (see Citation). "
        "Values that are nested or vary in shape are JSON strings "
        "(decode with `json.loads`), so every split has the same schema.", "",
        "## Loading", "", "```python", "from datasets import load_dataset", _load_line(kind, splits, meta), "```", "",
        _configs_table(splits), "", *_fields_sections(fields), "## Metrics", "", METRICS,
        "## Task versions", "", _tasks_table(meta.get("tasks", [])), "",
        "## Provenance", "", *_provenance(meta), "", "## Citation", "",
        "The benchmark design reproduced here is from Zhang et al., \"Silo-Bench: A Scalable Environment for "
        "Evaluating Distributed Coordination in Multi-Agent LLM Systems\", arXiv 2603.01045, ACL 2026.", "",
        "```bibtex", CITATION, "```", "",
    ])
    return str(DatasetCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + body))


def _load_line(kind: str, splits: dict[str, dict[str, int]], meta: dict) -> str:
    repo = f"{meta['repo']}-{kind}" if meta.get("repo") else f"ORG/NAME-{kind}"
    config = next(iter(splits))
    return f'ds = load_dataset("{repo}", "{config}", split="{next(iter(splits[config]))}")'


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
             f"- record schema version: {meta.get('schema_version')}"]
    if meta.get("run"):
        lines.append(f"- run sweep: `{meta['run']}`")
    return lines
