"""Schemas and dataset cards of the published datasets: features, field meanings, metrics, citation.

Nested or variable JSON values (shard data, answers, params, event args) are stored as JSON strings, so
every config and split of a dataset has one identical, explicit schema.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Features, List, Value
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from silo.records import Episode, EpisodeScore, Instance

I64, F64, STR, BOOL = Value("int64"), Value("float64"), Value("string"), Value("bool")

# (name, feature, meaning); the order is the column order
INSTANCE_FIELDS = [
    ("id", STR, "instance id: TASK-vVERSION-nN-sSUITESEED-rREPLICATE"),
    ("task", STR, "task id, e.g. I-01"),
    ("task_version", I64, "generator version of the task; any change to a generator's output bumps it"),
    ("level", I64, "1 aggregation, 2 mesh, 3 global shuffle"),
    ("seed", Value("uint64"), "instance seed, derived by hashing (suite seed, task, N, replicate)"),
    ("suite_seed", I64, "seed of the suite the instance was generated for"),
    ("replicate", I64, "replicate index"),
    ("n_agents", I64, "N, the number of agents the input is split across"),
    ("answer_kind", STR, "'global': every agent submits the same value; 'segmented': each agent its own piece"),
    ("description", STR, "role-agnostic task statement shown to every agent"),
    ("answer_format", STR, "the exact answer format shown to agents"),
    ("params", STR, "JSON object: public parameters every agent sees"),
    ("shards", List({"agent": I64, "data": STR, "text": STR}),
     "one entry per agent: agent id, shard data (JSON), shard as rendered into the prompt"),
    ("truth", List(STR), "correct answer of each agent (JSON), indexed by agent id"),
    ("schema_version", I64, "silo record schema version"),
]

USAGE = {"calls": I64, "input_tokens": I64, "output_tokens": I64, "cached_tokens": I64,
         "cost_usd": F64, "latency_s": F64}
EVENT = {"round": I64, "agent": I64, "kind": STR, "action": STR, "args": STR, "result": STR, "msg_id": I64,
         "sender": I64, "to": List(I64), "path": STR, "version": I64, "versions": List(I64), "content": STR,
         "chars": I64, "data": STR}

EPISODE_FIELDS = [
    ("id", STR, "episode id: instance id, protocol, team and a hash of the config"),
    ("task", STR, "task id"),
    ("task_version", I64, "generator version of the task"),
    ("level", I64, "task level"),
    ("n_agents", I64, "N"),
    ("protocol", STR, "p2p, broadcast, sfs; 'none' for N = 1"),
    ("team", STR, "scripted team name, or 'llm'"),
    ("prompt_variant", STR, "prompt variant of LLM agents"),
    ("replicate", I64, "replicate index"),
    ("instance_id", STR, "id of the instance (see the instances dataset)"),
    ("models", List(STR), "model of each agent (LLM teams; empty otherwise)"),
    ("status", STR, "complete (every agent submitted), max_rounds, or error"),
    ("error", STR, "error message when status is error"),
    ("rounds", I64, "rounds executed"),
    ("wall_s", F64, "wall-clock seconds"),
    ("usage", USAGE, "model usage summed over the episode"),
    ("config", STR, "JSON: the full EpisodeConfig"),
    ("instance", STR, "JSON: the full Instance the episode ran on"),
    ("world", STR, "JSON: protocol facts"),
    ("submissions", List({"agent": I64, "round": I64, "answer": STR}), "final answers (answer as JSON)"),
    ("events", List(EVENT),
     "the append-only event log: send, deliver, write, read, list, delete, submit, wait, error, action, "
     "model_call, note; args, result and data are JSON strings"),
    ("schema_version", I64, "silo record schema version"),
]

SCORE_CONTEXT = [
    ("episode_id", STR, "episode id"), ("task", STR, "task id"), ("level", I64, "task level"),
    ("n_agents", I64, "N"), ("protocol", STR, "protocol"), ("team", STR, "team"),
    ("prompt_variant", STR, "prompt variant"), ("replicate", I64, "replicate index"),
    ("instance_id", STR, "instance id"), ("status", STR, "episode status"),
]
AGENT_SCORE_FIELDS = SCORE_CONTEXT + [
    ("agent", I64, "agent id"),
    ("submitted", BOOL, "the agent submitted an answer"),
    ("submit_round", I64, "round of the submission"),
    ("correct", BOOL, "answer equals the truth (within the task's tolerance)"),
    ("partial", F64, "partial credit q_i in [0, 1]"),
    ("reach", F64, "share of depends_on(i) whose shard can have reached i by a time-respecting chain"),
    ("evidence", F64, "share of depends_on(i) whose information demonstrably arrived in content i observed"),
    ("held", BOOL, "reach = 1 and evidence = 1"),
    ("outcome", STR, "correct, no_answer, uninformed, relay_loss, integration_error or lucky"),
    ("model", STR, "the agent's model (LLM teams)"),
]
EPISODE_SCORE_FIELDS = SCORE_CONTEXT + [
    ("error", STR, "error message"),
    ("success", F64, "S: share of agents correct (null if the episode errored)"),
    ("partial", F64, "P: mean partial credit"),
    ("held", F64, "H: share of agents holding the information"),
    ("solved", BOOL, "every agent correct (S = 1)"),
    ("consensus_failure", BOOL, "global task with more than one distinct answer"),
    ("unanimous", BOOL, "solved, and one answer on global tasks"),
    ("messages", I64, "messages sent plus files written"),
    ("bytes", I64, "characters sent or written"),
    ("density", F64, "D = messages / (N(N-1)); under sfs, reads by other agents of files i wrote"),
    ("rounds", I64, "rounds executed"),
    ("rounds_to_completion", I64, "round of the last submission when every agent submitted"),
    ("tool_errors", I64, "invalid actions"),
    ("usage", USAGE, "model usage"),
]


def features(fields: list[tuple]) -> Features:
    """The datasets Features of a field list."""
    return Features({name: feat for name, feat, _ in fields})


def _js(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


# ---- rows: records <-> dataset rows -----------------------------------------------------------------
def instance_row(inst: Instance) -> dict:
    """One instances-dataset row; nested values as JSON strings."""
    d = inst.model_dump(mode="json")
    d["params"] = _js(d["params"])
    d["shards"] = [{"agent": s["agent"], "data": _js(s["data"]), "text": s["text"]} for s in d["shards"]]
    d["truth"] = [_js(t) for t in d["truth"]]
    return {name: d[name] for name, _, _ in INSTANCE_FIELDS}


def row_to_instance(row: dict) -> Instance:
    """Inverse of instance_row."""
    d = dict(row)
    d["params"] = json.loads(d["params"])
    d["shards"] = [{"agent": s["agent"], "data": json.loads(s["data"]), "text": s["text"]} for s in d["shards"]]
    d["truth"] = [json.loads(t) for t in d["truth"]]
    return Instance.model_validate(d)


EVENT_JSON = ("args", "result", "data")


def episode_row(ep: Episode) -> dict:
    """One episodes-dataset row: context columns, the event log, JSON strings for variable values."""
    c, inst = ep.config, ep.instance
    events = []
    for e in ep.events:
        d = e.model_dump(mode="json")
        events.append({**d, **{k: _js(d[k]) for k in EVENT_JSON}})
    return {
        "id": ep.id, "task": inst.task, "task_version": inst.task_version, "level": inst.level,
        "n_agents": inst.n_agents, "protocol": c.protocol, "team": c.team, "prompt_variant": c.prompt_variant,
        "replicate": c.replicate, "instance_id": inst.id, "models": c.models or [], "status": ep.status,
        "error": ep.error, "rounds": ep.rounds, "wall_s": ep.wall_s, "usage": ep.usage.model_dump(mode="json"),
        "config": _js(c.model_dump(mode="json")), "instance": _js(inst.model_dump(mode="json")),
        "world": _js(ep.world),
        "submissions": [{"agent": s.agent, "round": s.round, "answer": _js(s.answer)} for s in ep.submissions],
        "events": events, "schema_version": ep.schema_version,
    }


def row_to_episode(row: dict) -> Episode:
    """Inverse of episode_row."""
    events = [{**e, **{k: json.loads(e[k]) for k in EVENT_JSON}} for e in row["events"]]
    subs = [{**s, "answer": json.loads(s["answer"])} for s in row["submissions"]]
    return Episode.model_validate({
        "schema_version": row["schema_version"], "id": row["id"], "config": json.loads(row["config"]),
        "instance": json.loads(row["instance"]), "events": events, "submissions": subs, "status": row["status"],
        "error": row["error"], "rounds": row["rounds"], "usage": row["usage"], "world": json.loads(row["world"]),
        "wall_s": row["wall_s"],
    })


def score_rows(s: EpisodeScore) -> tuple[dict, list[dict]]:
    """(episode_scores row, agent_scores rows) of one episode score."""
    d = s.model_dump(mode="json")
    ctx = {name: d[name] for name, _, _ in AGENT_SCORE_FIELDS if name in d and name != "status"}
    agents = [{**ctx, "status": s.status, **a} for a in d["agents"]]
    return {name: d[name] for name, _, _ in EPISODE_SCORE_FIELDS}, agents


def leaderboard_table(obj: Any) -> tuple[list[dict], list[tuple]]:
    """Rows and fields of a leaderboard JSON of any shape: scalar columns typed, anything else as JSON."""
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if len(lists) == 1:
            obj = lists[0]
        elif obj and all(isinstance(v, dict) for v in obj.values()):
            obj = [{"key": k, **v} for k, v in obj.items()]
        else:
            obj = [obj]
    if not isinstance(obj, list):
        raise ValueError("leaderboard JSON must be a list of rows or an object holding them")
    rows = [r if isinstance(r, dict) else {"value": r} for r in obj]
    cols: dict[str, list] = {}
    for r in rows:
        for k in r:
            cols.setdefault(str(k), [])
    fields, out = [], [{} for _ in rows]
    for col in cols:
        vals = [r.get(col) for r in rows]
        kind = _scalar_kind([v for v in vals if v is not None])
        fields.append((col, Value(kind or "string"), "a column of data/leaderboard.json" + ("" if kind else " (JSON)")))
        for o, v in zip(out, vals, strict=True):
            o[col] = v if kind or v is None else _js(v)
    return out, fields


def _scalar_kind(vals: list) -> str | None:
    kinds = {"bool" if isinstance(v, bool) else "int64" if isinstance(v, int) else "float64"
             if isinstance(v, float) else "string" if isinstance(v, str) else "json" for v in vals}
    if kinds == {"int64", "float64"}:
        return "float64"
    if len(kinds) == 1 and "json" not in kinds:
        return kinds.pop()
    return None if kinds else "string"


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
