"""Schemas of the published datasets and the conversion of records to rows and back.

Nested or variable JSON values (shard data, answers, params, event args) are stored as JSON strings, so
every config and split of a dataset has one identical, explicit schema.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Features, List, Value

from silo.records import Episode, EpisodeConfig, EpisodeScore, Instance

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
         "sender": I64, "msg_ids": List(I64), "senders": List(I64), "to": List(I64), "path": STR, "version": I64,
         "versions": List(I64), "content": STR, "chars": I64, "data": STR}

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
     "model_call, note; args, result and data are JSON strings; a deliver lists every message one receive "
     "delivered (msg_ids, senders; schema_version 1 episodes: one deliver per message, msg_id and sender)"),
    ("schema_version", I64, "episode record schema version (2: one deliver per receive; 1: one per message)"),
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
    ("role", STR, "llm, partner:<kind> or scripted:<team> (mixed teams), else the scripted team"),
    ("self_contained", BOOL, "its answer depends on its own shard alone: set apart from H, the gap and outcome shares"),
    ("scorer_version", I64, "version of silo's scoring rules that produced this row"),
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
    ("models", List(STR), "model of each agent, by agent id (LLM teams; empty for scripted teams)"),
    ("max_rounds", I64, "round limit of the episode"),
    ("action_budget", I64, "actions an agent may take per round"),
    ("set_apart", I64, "agents set apart as self-contained (their answer depends on their own shard alone)"),
    ("scorer_version", I64, "version of silo's scoring rules that produced this row"),
    ("task_version", I64, "generator version of the task of the instance"),
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


def score_rows(s: EpisodeScore, config: EpisodeConfig | None = None) -> tuple[dict, list[dict]]:
    """(episode_scores row, agent_scores rows) of one episode score; the limits come from its config."""
    d = s.model_dump(mode="json")
    d["models"] = [a.model or "" for a in s.agents] if any(a.model for a in s.agents) else []
    d["max_rounds"] = config.max_rounds if config else None
    d["action_budget"] = config.action_budget if config else None
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
