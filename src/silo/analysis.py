"""Result tables at three grains (episode, agent, message) built from run directories.

Every row carries the config columns (run, task, level, n_agents, protocol, team, models,
prompt_variant, replicate, instance_id, episode_id), so any grouping is one polars call away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from silo.metrics import (
    MESSAGE_KINDS,
    NONE,
    jaccard,
    leaders,
    link_summary_array,
    message_rows,
    redundancy,
    task_optimal_edges,
)
from silo.records import OUTCOMES, Episode, EpisodeScore
from silo.report_facts import facts_of, run_facts
from silo.rundir import RunDir, RunDirError
from silo.scoring import SCORER_VERSION
from silo.tasks import UnknownTaskError, get_task

CONFIG = ["run", "task", "level", "n_agents", "protocol", "team", "models", "prompt_variant", "replicate",
          "instance_id", "episode_id"]
_CONFIG_SCHEMA = {"run": pl.Utf8, "task": pl.Utf8, "level": pl.Int64, "n_agents": pl.Int64, "protocol": pl.Utf8,
                  "team": pl.Utf8, "models": pl.Utf8, "prompt_variant": pl.Utf8, "replicate": pl.Int64,
                  "instance_id": pl.Utf8, "episode_id": pl.Utf8}


@dataclass
class Tables:
    """The three grains of one or more runs."""

    episodes: pl.DataFrame
    agents: pl.DataFrame
    messages: pl.DataFrame  # empty when built with messages=False (`silo report` does not need it)
    links: pl.DataFrame | None = None  # the message grain summed per (run, episode_id, sender, receiver): n rows

    def __post_init__(self):
        if self.links is None:
            self.links = _links_of(self.messages)


def models_label(models: Iterable[str | None]) -> str:
    """The models of a team as one string: distinct models in agent order joined by '+'; '' if scripted."""
    return "+".join(dict.fromkeys(m for m in models if m))


def config_row(s: EpisodeScore, run: str, memo: dict | None = None) -> dict:
    """Config columns of an episode (`memo`: task look-ups already made, kept by the caller)."""
    return {"run": run, "task": task_key(s.task, s.task_version, memo), "level": s.level, "n_agents": s.n_agents,
            "protocol": s.protocol,
            "team": s.team, "models": models_label(a.model for a in s.agents), "prompt_variant": s.prompt_variant,
            "replicate": s.replicate, "instance_id": s.instance_id, "episode_id": s.episode_id}


def task_key(task_id: str, version: int | None, memo: dict | None = None) -> str:
    """The task column: the id for the default version, 'I-03@1' for a pinned older one, so every table,
    report and leaderboard keeps results of different generator versions apart."""
    if version is None:
        return task_id
    t = _task(f"{task_id}@{version}", memo)
    return t.key if t is not None else f"{task_id}@{version}"


def _task(task_id: str, memo: dict | None = None):
    if memo is not None and task_id in memo:
        return memo[task_id]
    try:
        t = get_task(task_id)
    except UnknownTaskError:
        t = None
    if memo is not None:
        memo[task_id] = t
    return t


def episode_row(s: EpisodeScore, run: str, comm: dict | None = None, memo: dict | None = None) -> dict:
    """Episode grain: headline scores, outcome shares, communication, usage and cost.

    Self-contained agents (depends_on = itself, e.g. agent 0 of a prefix sum) are set apart: S and P
    count every agent (the paper's success), but H, the gap (H - S_comm) and the outcome shares count
    only the agents that had to communicate; `set_apart` says how many were left out and `solo_error`
    the share of all agents that were self-contained and wrong."""
    task = _task(s.task, memo)
    ok = s.status != "error"
    comm_agents = [a for a in s.agents if not a.self_contained]
    k = len(comm_agents)
    some = ok and k > 0
    shares = {o: (sum(a.outcome == o for a in comm_agents) / k if some else None) for o in OUTCOMES}
    held = _share([a.held for a in comm_agents]) if some else None
    s_comm = _share([a.correct for a in comm_agents]) if some else None
    optimal = task.optimal_messages(s.n_agents) if task is not None and s.n_agents > 1 else None
    global_task = getattr(task, "answer_kind", "global") == "global"
    rounds = max(s.rounds, 1)
    n = max(len(s.agents), 1)
    return config_row(s, run, memo) | {
        "status": s.status, "error": s.error, "answer_kind": "global" if global_task else "segmented",
        "S": s.success, "P": s.partial, "H": held, "S_comm": s_comm,
        "gap": held - s_comm if some else None,
        "set_apart": len(s.agents) - k,
        "solo_error": sum(a.self_contained and a.submitted and not a.correct for a in s.agents) / n if ok else None,
        "scorer_version": s.scorer_version, "task_version": s.task_version,
        "solved": s.solved, "unanimous": s.unanimous,
        # consensus is only defined when agents must agree on one global value
        "consensus_failure": s.consensus_failure if global_task else None,
        **shares, "no_answer_held": sum(a.held and not a.submitted for a in comm_agents) / k if some else None,
        "messages": s.messages, "bytes": s.bytes, "density": s.density, "optimal_messages": optimal,
        "redundancy": redundancy(s.messages, optimal), "rounds": s.rounds,
        "rounds_to_completion": s.rounds_to_completion, "tool_errors": s.tool_errors,
        "input_tokens": s.usage.input_tokens, "output_tokens": s.usage.output_tokens, "cost_usd": s.usage.cost_usd,
        "tokens_in_per_round": s.usage.input_tokens / rounds, "tokens_out_per_round": s.usage.output_tokens / rounds,
        "fidelity": None, "leaders": None, "has_leader": None, "departed_sends": None, **(comm or {}),
    }


def _share(xs: list[bool]) -> float:
    return sum(map(float, xs)) / len(xs)


def communication(ep: Episode) -> tuple[dict, list[dict], list[int]]:
    """Per-episode topology fidelity and emergent leaders, the message rows, and messages received per agent."""
    comm, _, received = _communication(facts_of(ep), {})
    return comm, message_rows(ep), received


def _communication(f: dict, cache: dict) -> tuple[dict, dict[int, int], list[int]]:
    """Fidelity, leaders and departed sends of an episode from its facts (report_facts); also the departed
    sends per agent and the messages received per agent. `cache` keeps each (task, N)'s optimal edges."""
    n = f["n"]
    key = (f["task"], n)
    if key not in cache:
        task = _task(f["task"], cache)
        cache[key] = _optimal(task_optimal_edges(task, n), n) if task is not None else False
    optimal = cache[key]
    if optimal is False or optimal[1] is None:  # no task, or an optimum the mask cannot hold: the edge sets
        edges, received, chars = link_summary_array(f["links"], n)
        fidelity = jaccard(edges, optimal[0]) if optimal is not False else None
    else:
        fidelity, received, chars = _fidelity(f["links"], n, *optimal)
    lead = leaders(received, chars=chars) if n > 1 else []
    gone = dict(f["gone"])  # sends to agents that had submitted (departed.py)
    comm = {"fidelity": fidelity, "leaders": ",".join(map(str, lead)), "has_leader": bool(lead) if n > 2 else None,
            "departed_sends": sum(gone.values())}
    return comm, gone, received


def _optimal(edges: set | None, n: int) -> tuple[set | None, np.ndarray | None]:
    """A task's optimal edges and, when every one is a pair of agents 0..N-1, their N x N mask (flat)."""
    if edges is None:
        return None, None
    e = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    if not ((e >= 0) & (e < n)).all():
        return edges, None
    mask = np.zeros(n * n, dtype=bool)
    mask[e[:, 0] * n + e[:, 1]] = True
    return edges, mask


def _fidelity(a: np.ndarray, n: int, optimal: set, mask: np.ndarray) -> tuple[float | None, list[int], list[int]]:
    """metrics.jaccard(edges, optimal) of a link array without building its edge set, and the messages and
    characters received per agent (metrics.link_summary_array's). The array holds each (sender, receiver)
    once (link_counts' keys), so |edges| is its count of sends and |edges & optimal| the sends in the mask:
    the same counts, so the same ratio."""
    s, r, k, c = a
    sent = r != NONE
    mine = sent & (r >= 0) & (r < n)
    got = np.bincount(r[mine], weights=k[mine], minlength=n).astype(np.int64).tolist()  # exact below 2^53
    chars = np.bincount(r[mine], weights=c[mine], minlength=n).astype(np.int64).tolist()
    inside = mine & (s >= 0) & (s < n)
    both = int(mask[s[inside] * n + r[inside]].sum())
    union = int(sent.sum()) + len(optimal) - both
    return (both / union if union else None), got, chars


def explain(outcome: str | None, a: dict) -> str:
    """One sentence explaining an agent's outcome from its scores (the automatic failure explanation). Only the
    outcome's own sentence is formatted (once per agent: 17k agents on the oracle grid)."""
    if outcome is None:
        return "the episode errored: not scored (errors are never counted as wrong answers)"
    if outcome == "correct":
        return "correct, with every needed shard held"
    if outcome == "no_answer":
        return "never submitted"
    reach, evid = f"{100 * a['reach']:.0f}%", f"{100 * a['evidence']:.0f}%"
    if outcome == "lucky":
        return f"correct without holding the information (reach {reach}, evidence {evid}): a guessable answer"
    ans = f"answered {a.get('answer') or '?'} (truth {a.get('truth') or '?'})"
    return {
        "uninformed": f"submitted in round {a['submit_round']} having reached only {reach} of the shards its answer "
                      f"depends on; {ans}",
        "relay_loss": f"every needed shard could have reached it, but evidence of only {evid} arrived; {ans}",
        "integration_error": f"held all the information it needed and still {ans}",
    }[outcome]


def agent_rows(s: EpisodeScore, run: str, ep: Episode | dict | None = None, received: list[int] | None = None,
               cfg: dict | None = None, gone: dict[int, int] | None = None) -> list[dict]:
    """Agent grain: one row per agent with its answer, truth, reach, evidence, outcome and explanation
    (`ep`: the Episode or its facts, report_facts.facts_of)."""
    cfg = cfg or config_row(s, run)
    f = facts_of(ep) if isinstance(ep, Episode) else ep
    subs = dict(f["answers"]) if f else {}
    gone = gone if gone is not None else dict(f["gone"]) if f else {}
    truth = f["truth"] if f else None
    out = []
    for a in s.agents:
        row = cfg | {"status": s.status, "agent": a.agent, "model": a.model, "role": a.role, "submitted": a.submitted,
                     "submit_round": a.submit_round, "correct": a.correct, "partial": a.partial, "reach": a.reach,
                     "evidence": a.evidence, "held": a.held, "outcome": a.outcome,
                     "self_contained": a.self_contained, "scorer_version": a.scorer_version,
                     "answer": subs.get(a.agent), "truth": truth[a.agent] if f else None,
                     "received": received[a.agent] if received else None,
                     "departed_sends": gone.get(a.agent)}
        row["why"] = explain(a.outcome, row)
        out.append(row)
    return out


_MSG_SCHEMA = {**_CONFIG_SCHEMA, "round": pl.Int64, "kind": pl.Utf8, "sender": pl.Int64, "receiver": pl.Int64,
               "chars": pl.Int64}


def build_tables(scores: list[EpisodeScore], episodes: Iterable[Episode] = (), run: str = "",
                 messages: bool = True) -> Tables:
    """Tables from score records and (optionally) the episode records for event-level metrics.

    Episodes are read one at a time and only small per-episode facts are kept; `messages=False` leaves
    the message grain (a row per message and recipient) empty, keeping only its per-link sums (`links`).
    An episode needs only its send, write and read events (metrics.MESSAGE_KINDS)."""
    msg_rows: list[dict] = []

    def facts() -> Iterator[dict]:
        for ep in episodes:
            if messages and ep.id in by_id:
                cfg = config_row(by_id[ep.id], run)
                msg_rows.extend(cfg | r for r in message_rows(ep))
            yield facts_of(ep)
            del ep  # not held while the next episode is read

    by_id = {s.episode_id: s for s in scores}
    t = tables_from_facts(scores, facts(), run)
    return Tables(t.episodes, t.agents, _frame(msg_rows, _MSG_SCHEMA), t.links)


def tables_from_facts(scores: list[EpisodeScore], facts: Iterable[dict], run: str = "",
                      ready: Callable[[Tables], None] | None = None) -> Tables:
    """Tables from score records and the episodes' facts (report_facts: what `silo report` reads); the
    message grain is left empty. `ready` is given the episode grain and the links as soon as they are built,
    before the agent grain (the report's plots need only those two), when every episode id is unique."""
    by_id = {s.episode_id: s for s in scores}
    ep_rows, later, seen, cache, ids, arrays = [], [], set(), {}, [], []
    for f in facts:
        s = by_id.get(f["id"])
        if s is None:
            continue
        comm, gone, received = _communication(f, cache)
        row = episode_row(s, run, comm, cache)
        ep_rows.append(row)
        later.append((s, f, received, row, gone))
        ids.append(f["id"])
        arrays.append(f["links"][:3])
        seen.add(f["id"])
    for s in scores:
        if s.episode_id not in seen:
            ep_rows.append(episode_row(s, run, memo=cache))
            later.append((s, None, None, None, None))
    episodes, links = _frame(ep_rows, _CONFIG_SCHEMA), _links(ids, arrays, run)
    if ready is not None and len(episodes) and episodes.get_column("episode_id").is_unique().all():
        ready(Tables(episodes, episodes.clear(), _frame([], _MSG_SCHEMA), links))
    ag_rows = []
    for s, f, received, row, gone in later:
        ag_rows += agent_rows(s, run) if f is None else agent_rows(s, run, f, received, {c: row[c] for c in CONFIG},
                                                                   gone)
    return Tables(episodes, _frame(ag_rows, _CONFIG_SCHEMA), _frame([], _MSG_SCHEMA), links)


_LINK_SCHEMA = {"run": pl.Utf8, "episode_id": pl.Utf8, "sender": pl.Int64, "receiver": pl.Int64, "n": pl.Int64}


def _links(ids: list[str], arrays: list[np.ndarray], run: str) -> pl.DataFrame:
    """The per-link frame (run, episode_id, sender, receiver, n) of the episodes' link arrays (sender,
    receiver, rows; one array per episode id); join the episodes table for more."""
    sizes = [a.shape[1] for a in arrays]
    if not sum(sizes):
        return pl.DataFrame(schema=_LINK_SCHEMA)
    s, r, k = np.concatenate(arrays, axis=1)
    eid = pl.Series(ids, dtype=pl.Utf8).gather(np.repeat(np.arange(len(ids)), sizes))  # one id per link row
    df = pl.DataFrame({"episode_id": eid, "sender": s, "receiver": r, "n": k})
    return df.with_columns(pl.lit(run, pl.Utf8).alias("run"), pl.when(pl.col("receiver") != NONE)
                           .then(pl.col("receiver")).alias("receiver")).select(list(_LINK_SCHEMA))


def _links_of(msgs: pl.DataFrame) -> pl.DataFrame:
    """The per-link frame of a message-grain frame (Tables built by hand)."""
    if not len(msgs):
        return pl.DataFrame(schema=_LINK_SCHEMA)
    keys = ["run", "episode_id", "sender", "receiver"]
    return msgs.group_by(keys, maintain_order=True).agg(pl.len().cast(pl.Int64).alias("n")).select(list(_LINK_SCHEMA))


def _frame(rows: list[dict], schema: dict) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        [pl.col(c).cast(t) for c, t in schema.items() if c in rows[0]])


def load_run(path: str | Path, events: bool = True, messages: bool = True,
             ready: Callable[[Tables], None] | None = None) -> Tables:
    """Tables of one run directory; scores it first if scores.jsonl is missing. `messages=False` leaves the
    message grain empty (see build_tables) and reads the episodes' facts through the run's sidecar
    (report_facts: an unchanged episode file is not read again); then `ready` is given the episode grain and
    the links early (tables_from_facts)."""
    rd = RunDir(path)
    if not rd.path.is_dir():
        raise RunDirError(f"not a run directory: {path}")
    scores = rd.scores() if (rd.path / "scores.jsonl").exists() else []
    if not scores or any(x.scorer_version != SCORER_VERSION or x.agents and x.agents[0].scorer_version != SCORER_VERSION
                         for x in scores):
        from silo.score_jobs import score_run  # the scorer, only when scores must be made

        scores = score_run(rd)  # missing or scored by older rules: re-score offline from the episode records
    if events and not messages:
        if not rd.episodes_dir.is_dir():
            raise RunDirError(f"not a run directory (no episodes/): {rd.path}")
        # every episode's (small) facts first, then the rows: the memory of reading the largest episode is
        # free again for the rows (read while the rows grew, the two peaks added up)
        facts = list(run_facts(rd.path, rd.episode_files()))
        return tables_from_facts(scores, facts, run=rd.path.name, ready=ready)
    return build_tables(scores, _episodes(rd) if events else (), run=rd.path.name, messages=messages)


def _episodes(rd: RunDir) -> Iterable[Episode]:
    """The run's episodes holding only the events the tables read, where the run directory can skip the rest."""
    try:
        return rd.episodes(kinds=MESSAGE_KINDS)
    except TypeError:  # a RunDir without the kinds filter: whole episodes
        return rd.episodes()


def load_runs(paths: Iterable[str | Path], events: bool = True, messages: bool = True,
              ready: Callable[[Tables], None] | None = None) -> Tables:
    """Tables of several runs, concatenated; an episode id seen twice keeps its last run's copy. With one run
    read through its facts (messages=False), `ready` may be given its episode grain and links before the agent
    grain is built (tables_from_facts): those are then the returned tables' own."""
    paths = list(paths)
    parts = [load_run(p, events, messages, ready if len(paths) == 1 else None) for p in paths]
    if not parts:
        raise ValueError("no run directories given")
    if len(parts) == 1 and len(parts[0].episodes) and parts[0].episodes.get_column("episode_id").is_unique().all():
        return parts[0]  # one run, every id once: the concatenation below would keep every row, in order

    def cat(frames: list[pl.DataFrame], key: list[str]) -> pl.DataFrame:
        df = pl.concat([f for f in frames if len(f)], how="diagonal_relaxed") if any(len(f) for f in frames) \
            else frames[0]
        return df.unique(subset=key, keep="last", maintain_order=True) if len(df) else df

    eps = cat([p.episodes for p in parts], ["episode_id"])
    if eps.is_empty():
        raise RunDirError(f"no episodes in {', '.join(map(str, paths))}")
    keep = eps.select("episode_id", "run")
    agents = cat([p.agents for p in parts], ["episode_id", "agent"]).join(keep, on=["episode_id", "run"], how="semi")
    msgs = _kept([p.messages for p in parts], keep)
    return Tables(eps, agents, msgs, _kept([p.links for p in parts], keep))


def _kept(frames: list[pl.DataFrame], keep: pl.DataFrame) -> pl.DataFrame:
    """Frames of several runs concatenated, only the rows of the episodes kept."""
    df = pl.concat([f for f in frames if len(f)], how="diagonal_relaxed") if any(len(f) for f in frames) \
        else frames[0]
    return df.join(keep, on=["episode_id", "run"], how="semi") if len(df) else df


def filter_tables(t: Tables, **where) -> Tables:
    """Rows of every grain whose config columns equal the given values (strings compared as text)."""
    def f(df: pl.DataFrame) -> pl.DataFrame:
        for k, v in where.items():
            if k not in df.columns:
                raise ValueError(f"unknown column {k!r}; config columns: {', '.join(CONFIG)}")
            df = df.filter(pl.col(k).cast(pl.Utf8) == str(v))
        return df
    eps = f(t.episodes)
    links = t.links.join(eps.select("episode_id", "run"), on=["episode_id", "run"], how="semi") \
        if len(t.links) else t.links
    return Tables(eps, f(t.agents), f(t.messages) if len(t.messages) else t.messages, links)
