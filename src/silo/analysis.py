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

from silo.grains import (  # noqa: F401 - the rows, split out: importable from here as before
    _communication,
    _fidelity,
    _optimal,
    agent_rows,
    communication,
    config_row,
    episode_row,
    explain,
    models_label,
    task_key,
)
from silo.metrics import MESSAGE_KINDS, NONE, message_rows
from silo.records import Episode, EpisodeScore
from silo.report_facts import facts_of, run_facts
from silo.rundir import RunDir, RunDirError
from silo.scoring import SCORER_VERSION

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
                      ready: Callable[[Tables], None] | None = None,
                      heads: Callable[[pl.DataFrame, pl.DataFrame], None] | None = None) -> Tables:
    """Tables from score records and the episodes' facts (report_facts: what `silo report` reads); the
    message grain is left empty. When every episode id is unique, `heads` is given the episodes' heads (HEADS:
    what the sender x receiver heatmaps need) and the links as soon as the facts are in, before any row is
    built, and `ready` the episode grain and the links as soon as they are built, before the agent grain (the
    report's plots need only those)."""
    by_id = {s.episode_id: s for s in scores}
    facts = [f for f in facts if f["id"] in by_id]
    links = _links([f["id"] for f in facts], [f["links"][:3] for f in facts], run)
    unique = len(by_id) == len(scores) and len({f["id"] for f in facts}) == len(facts)
    if heads is not None and unique and scores:
        heads(_heads(scores, run), links)
    ep_rows, later, seen, cache = [], [], set(), {}
    for f in facts:
        s = by_id[f["id"]]
        comm, gone, received = _communication(f, cache)
        row = episode_row(s, run, comm, cache)
        ep_rows.append(row)
        later.append((s, f, received, row, gone))
        seen.add(f["id"])
    for s in scores:
        if s.episode_id not in seen:
            ep_rows.append(episode_row(s, run, memo=cache))
            later.append((s, None, None, None, None))
    episodes = _frame(ep_rows, _CONFIG_SCHEMA)
    if ready is not None and len(episodes) and episodes.get_column("episode_id").is_unique().all():
        ready(Tables(episodes, episodes.clear(), _frame([], _MSG_SCHEMA), links))
    ag_rows = []
    for s, f, received, row, gone in later:
        ag_rows += agent_rows(s, run) if f is None else agent_rows(s, run, f, received, {c: row[c] for c in CONFIG},
                                                                   gone)
    return Tables(episodes, _frame(ag_rows, _CONFIG_SCHEMA), _frame([], _MSG_SCHEMA), links)


HEADS = {"run": pl.Utf8, "episode_id": pl.Utf8, "protocol": pl.Utf8, "n_agents": pl.Int64, "team": pl.Utf8,
         "S": pl.Float64}


def _heads(scores: list[EpisodeScore], run: str) -> pl.DataFrame:
    """The HEADS columns of the episodes, as the episode grain has them."""
    return pl.DataFrame({"run": [run] * len(scores), "episode_id": [s.episode_id for s in scores],
                         "protocol": [s.protocol for s in scores], "n_agents": [s.n_agents for s in scores],
                         "team": [s.team for s in scores], "S": [s.success for s in scores]}, schema=HEADS)


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
             ready: Callable[[Tables], None] | None = None, heads: Callable | None = None) -> Tables:
    """Tables of one run directory; scores it first if scores.jsonl is missing. `messages=False` leaves the
    message grain empty (see build_tables) and reads the episodes' facts through the run's sidecar
    (report_facts: an unchanged episode file is not read again); then `ready` is given the episode grain and
    the links early, and `heads` the episodes' heads and the links earlier still (tables_from_facts)."""
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
        return tables_from_facts(scores, facts, run=rd.path.name, ready=ready, heads=heads)
    return build_tables(scores, _episodes(rd) if events else (), run=rd.path.name, messages=messages)


def _episodes(rd: RunDir) -> Iterable[Episode]:
    """The run's episodes holding only the events the tables read, where the run directory can skip the rest."""
    try:
        return rd.episodes(kinds=MESSAGE_KINDS)
    except TypeError:  # a RunDir without the kinds filter: whole episodes
        return rd.episodes()


def load_runs(paths: Iterable[str | Path], events: bool = True, messages: bool = True,
              ready: Callable[[Tables], None] | None = None, heads: Callable | None = None) -> Tables:
    """Tables of several runs, concatenated; an episode id seen twice keeps its last run's copy. With one run
    read through its facts (messages=False), `ready` may be given its episode grain and links before the agent
    grain is built, and `heads` its episodes' heads and links before that (tables_from_facts): those are then
    the returned tables' own."""
    paths = list(paths)
    parts = [load_run(p, events, messages, *((ready, heads) if len(paths) == 1 else (None, None))) for p in paths]
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
