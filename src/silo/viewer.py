"""A self-contained static HTML viewer of a run: one file, inline JS/CSS, the data embedded as JSON.

Works from file:// with no server; one page can hold several run directories (a run filter picks them).
Per LLM agent it shows the whole conversation as the model saw it, rebuilt from the logged `model_call`
deltas (docs/llm.md): system prompt with the agent's private data, every message, reply and tool result;
the warm-up request (max_tokens 1, purpose "prefill") is labelled and hidden by default. Long content is
folded in the page (expand it with a click), not cut: timeline content is cut at `max_content`
characters, conversation messages at `max_message`; each episode shows at most `max_events` events
(fewer when the run is big: the whole file holds at most about `event_budget` events); the page says
where it cut.

Big runs (N = 1,000): each episode's detail is its own JSON chunk, parsed only when the episode is
opened; the sender x receiver counts of a big, sparse episode are its non-zero cells only (`links`); the
page renders long lists (agents, events, conversations) a page at a time and builds a conversation when
it is expanded. An episode file is read twice, never held whole: once with the event kinds scoring
reads (`silo score`'s read), then streamed one event at a time for the timeline.
"""

from __future__ import annotations

import json
import logging
import os
from array import array
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from silo import episode_io
from silo.analysis import explain
from silo.departed import departed_recipients, departed_sends, left_rounds
from silo.records import OUTCOMES, Episode, EpisodeScore, Event, deliveries
from silo.runner import RunDir, score_safely
from silo.scoring import SCORED_KINDS

PLACEHOLDER = "__SILO_DATA__"
CHUNKS = "__SILO_EPISODES__"  # where the per-episode JSON chunks go (one <script> each)
SKIPPED_KINDS = {"wait"}  # one per agent per round: noise in a timeline
USAGE_KEYS = {"model", "input_tokens", "output_tokens", "cached_tokens", "cost_usd", "latency_s"}
LISTED = 8  # messages of one delivery named in its timeline line; the rest are counted
DENSE_N = 40  # up to this N the counts are written as a full matrix (the page draws a table of cells)
log = logging.getLogger(__name__)


class ViewerError(ValueError):
    """A run that cannot be viewed."""


def _cut(text: str | None, limit: int) -> str:
    if text is None:
        return ""
    return text if len(text) <= limit else text[:limit] + f"… [+{len(text) - limit} chars]"


def _js(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def event_view(e: Event, n: int, limit: int) -> dict | None:
    """A timeline row: round, agent, kind, a one-line summary and the (cut) content."""
    k, s = e.kind, ""
    if k in SKIPPED_KINDS:
        return None
    if k == "send":
        to = e.to or []
        s = "to all" if len(to) == n - 1 and n > 2 else "to " + ", ".join(f"A{t}" for t in to)
        s += f" (msg {e.msg_id})"
    elif k == "deliver":
        s = _delivery_line(e)
    elif k in ("write", "read", "delete"):
        s = f"{e.path}" + (f" v{e.version}" if e.version is not None else "")
        s += f" by A{e.sender}" if k == "read" and e.sender is not None else ""
    elif k == "list":
        s = f"prefix {e.args.get('prefix', '')!r} -> {len(e.result or [])} files"
    elif k == "submit":
        s = "answer " + _cut(_js(e.args.get("answer")), limit)
    elif k == "error":
        s = f"{e.action}: {_cut(str(e.result), limit)}"
    elif k == "model_call":
        d = e.data
        s = f"{d.get('model', '')} in {d.get('input_tokens', 0)} / out {d.get('output_tokens', 0)} tokens"
        return {"r": e.round, "a": e.agent, "k": k, "s": s, "c": _model_call_text(d, limit)}
    elif k == "action":
        s = f"{e.action} {_cut(_js(e.result), 80)}"
    else:
        s = _cut(_js(e.data or e.args), limit)
    return {"r": e.round, "a": e.agent, "k": k, "s": s, "c": _cut(e.content, limit) if e.content else ""}


def _delivery_line(e: Event) -> str:
    """What one receive delivered: senders and message ids (the first LISTED), count and total chars."""
    got = deliveries(e)
    named = ", ".join(f"A{s} (msg {m})" for m, s in got[:LISTED])
    more = f" and {len(got) - LISTED} more" if len(got) > LISTED else ""
    count = f"{len(got)} messages, " if len(got) > 1 else ""
    return f"from {named}{more} ({count}{e.chars} chars)"


def _model_call_text(d: dict, limit: int) -> str:
    """The last message sent and the reply of a logged model call (silo.agents.llm_agent's record)."""
    msgs = d.get("messages") or []
    last = msgs[-1].get("content") if msgs and isinstance(msgs[-1], dict) else None
    resp = d.get("response")
    parts = [f"sent: {_cut(str(last), limit)}"] if last else []
    if isinstance(resp, dict):
        parts.append("reply: " + _cut(resp.get("content") or _js(resp.get("tool_calls")), limit))
    elif not parts:
        rest = {k: v for k, v in d.items() if k not in USAGE_KEYS}
        parts.append(_cut(_js(rest), limit) if rest else "")
    return "\n".join(parts)


class _Conversations:
    """Per agent, its model calls in order: what each request added to the conversation and the reply.

    Request k is full[k-1][:prefix_len] + messages (docs/llm.md); `kept` < the previous length means the
    history was shrunk or rewritten before that request (the messages dropped are not re-shown)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.out: dict[int, list[dict]] = {}
        self.sizes: dict[int, int] = {}
        self.warm_before: dict[int, bool] = {}

    def add(self, e: Event) -> None:
        if e.kind != "model_call" or "prefix_len" not in e.data:
            return
        d, limit = e.data, self.limit
        # after a warm-up request (a lone shared prompt) a smaller prefix is not a shrunk history
        prev = d["prefix_len"] if self.warm_before.get(e.agent) else self.sizes.get(e.agent, 0)
        new = [{"role": m.get("role", "?"), "content": _cut(_message_text(m), limit)}
               for m in d.get("messages") or [] if isinstance(m, dict)]
        self.sizes[e.agent] = d["prefix_len"] + len(new)
        resp = d.get("response") if isinstance(d.get("response"), dict) else {}
        reply = resp.get("content") or (_js(resp["tool_calls"]) if resp.get("tool_calls") else "")
        warm = d.get("purpose") == "prefill" or (d.get("sampling") or {}).get("max_tokens") == 1
        self.warm_before[e.agent] = warm
        self.out.setdefault(e.agent, []).append({
            "r": e.round, "call": d.get("call"), "warmup": warm, "kept": d["prefix_len"], "prev": prev, "new": new,
            "reply": _cut(reply, limit), "error": d.get("error"), "model": d.get("model"),
            "tin": d.get("input_tokens", 0), "tout": d.get("output_tokens", 0), "cached": d.get("cached")})


def _message_text(m: dict) -> str:
    """A chat message as text: its content, plus any tool calls it carries."""
    c = m.get("content")
    text = c if isinstance(c, str) else _js(c) if c is not None else ""
    if m.get("tool_calls"):
        text += ("\n" if text else "") + "tool calls: " + _js(m["tool_calls"])
    return text


def _link(e: Event, cells: array, n: int) -> None:
    """Count e in the sender x receiver cells: each message delivered, and a read of another agent's file."""
    if e.kind == "deliver" and 0 <= e.agent < n:
        for _, sender in deliveries(e):
            if sender is not None and 0 <= sender < n:
                cells[sender * n + e.agent] += 1
    elif e.kind == "read" and e.sender is not None and e.sender != e.agent and 0 <= e.sender < n and 0 <= e.agent < n:
        cells[e.sender * n + e.agent] += 1


def _heat(cells: array, n: int) -> dict:
    """The counts as `heat` (n rows of n) when N <= DENSE_N or a third of the cells are non-zero, else as
    `links`: [sender, receiver, count] of each non-zero cell (star reduce at N = 1,000: ~2,000 of 10^6)."""
    rows = (cells[i * n:(i + 1) * n] for i in range(n))
    if n <= DENSE_N or 3 * (n * n - cells.count(0)) > n * n:
        return {"heat": [list(r) for r in rows]}
    return {"links": [[i, j, v] for i, r in enumerate(rows) if any(r) for j, v in enumerate(r) if v]}


def episode_view(ep: Episode, sc: EpisodeScore, max_content: int, max_events: int,
                 max_message: int = 20_000, events: Iterable[Event] | None = None) -> tuple[dict, dict]:
    """(list entry, detail) of one episode. `events` is its whole log (default ep.events), read once: any
    iterable, e.g. streamed from the file while `ep` holds only the events scoring reads."""
    n = ep.instance.n_agents
    outcomes = {o: 0 for o in OUTCOMES}
    for a in sc.agents:
        if a.outcome is not None:  # errored episodes have no outcome classes
            outcomes[a.outcome] += 1
    summary = {"id": ep.id, "task": ep.instance.task, "level": ep.instance.level, "n": n,
               "protocol": ep.config.protocol, "team": ep.config.team, "variant": ep.config.prompt_variant,
               "status": ep.status, "rounds": ep.rounds, "S": sc.success, "P": sc.partial, "H": sc.held,
               "solved": sc.solved, "consensus_failure": sc.consensus_failure, "messages": sc.messages,
               "outcomes": {k: v for k, v in outcomes.items() if v}, "scorer_version": sc.scorer_version}
    subs = {s.agent: s for s in ep.submissions}
    gone = departed_sends(ep)  # per sender: (message, recipient) pairs sent to agents that had submitted
    summary["departed"] = sum(gone.values())
    agents = []
    for a in sc.agents:
        sub = subs.get(a.agent)
        row = {"agent": a.agent, "answer": _cut(_js(sub.answer), max_content) if sub else None,
               "truth": _cut(_js(ep.instance.truth[a.agent]), max_content), "round": a.submit_round,
               "correct": a.correct, "partial": a.partial, "reach": a.reach, "evidence": a.evidence,
               "held": a.held, "outcome": a.outcome, "model": a.model, "self_contained": a.self_contained,
               "departed": gone.get(a.agent, 0)}
        row["why"] = explain(a.outcome, {**row, "submit_round": a.submit_round})
        agents.append(row)
    shown, total, cells, conv = _scan(ep.events if events is None else events, n, left_rounds(ep), max_content,
                                      max_events, max_message)
    detail = {"description": _cut(ep.instance.description, 2000), "error": ep.error, "agents": agents,
              **_heat(cells, n), "events": shown, "events_total": total,
              "usage": ep.usage.model_dump(), "instance": ep.instance.id, "conv": conv,
              "shards": [_cut(sh.text, max_message) for sh in ep.instance.shards]}
    return summary, detail


def _scan(events: Iterable[Event], n: int, left: dict[int, int], max_content: int, max_events: int,
          max_message: int) -> tuple[list[dict], int, array, dict]:
    """One pass over an episode's events: the first `max_events` timeline rows, how many there are in
    all, the sender x receiver cells and the conversations."""
    shown, total, conv = [], 0, _Conversations(max_message)
    cells = array("I", bytes(4 * n * n))
    for e in events:
        _link(e, cells, n)
        conv.add(e)
        if e.kind in SKIPPED_KINDS:
            continue
        total += 1
        if len(shown) < max_events:
            v = event_view(e, n, max_content)
            if lost := departed_recipients(e, left):  # a send some recipients never read: they had submitted
                v["gone"] = lost
            shown.append(v)
    return shown, total, cells, conv.out


def _views(rds: list[RunDir], names: list[str], per_episode: int, max_content: int,
           max_message: int) -> Iterator[tuple[dict, dict]]:
    """(summary, detail) of every episode of the runs, one at a time."""
    keys: set[str] = set()
    for rd, name in zip(rds, names, strict=True):
        for f in rd.episode_files():
            try:  # the events scoring reads, then the whole log streamed (an unreadable file is skipped)
                ep = episode_io.read(f, SCORED_KINDS)
                s, d = episode_view(ep, score_safely(ep), max_content, per_episode, max_message,
                                    episode_io.events(f))
            except (OSError, ValueError) as e:
                log.warning("unreadable episode file %s skipped (%s)", f, str(e).splitlines()[0][:200])
                continue
            s["run"] = name
            s["key"] = ep.id if ep.id not in keys else f"{name}/{ep.id}"
            keys.add(s["key"])
            yield s, d


def _runs(run_dirs) -> tuple[list[RunDir], list[str], int]:
    """The run directories (checked), their short names and the number of episode files."""
    dirs = [run_dirs] if isinstance(run_dirs, str | os.PathLike) else list(run_dirs)
    rds = [RunDir(d) for d in dirs]
    count = 0
    for rd in rds:
        if not rd.episodes_dir.is_dir():
            raise ViewerError(f"not a run directory (no episodes/): {rd.path}")
        if not rd.episode_files():
            raise ViewerError(f"run directory has no episodes: {rd.path}")
        count += len(rd.episode_files())
    return rds, _run_names(rds), count


def _page_data(rds: list[RunDir], names: list[str], summaries: list[dict], caps: dict) -> dict:
    runs = []
    for rd, name in zip(rds, names, strict=True):
        meta = json.loads((rd.path / "config.json").read_text()) if (rd.path / "config.json").is_file() else {}
        runs.append({"name": name, "path": str(rd.path), "silo_version": meta.get("silo_version"),
                     "git": meta.get("git")})
    summaries.sort(key=lambda s: (s["level"], s["task"], s["n"], s["protocol"], s["team"], s["run"], s["id"]))
    return {"run": ", ".join(str(rd.path) for rd in rds), "runs": runs, "silo_version": runs[0]["silo_version"],
            "git": runs[0]["git"], "caps": caps, "outcomes": list(OUTCOMES), "episodes": summaries}


def build_view(run_dirs: str | os.PathLike | list, max_content: int = 2000, max_events: int = 2000,
               event_budget: int = 200_000, max_message: int = 20_000) -> dict:
    """The data embedded in the page: runs, episode list and per-episode details (keyed like the list).

    Episodes are keyed by id; with several runs an id seen in more than one run is keyed 'RUN/id'."""
    rds, names, count = _runs(run_dirs)
    per_episode = max(100, min(max_events, event_budget // count))
    summaries, details = [], {}
    for s, d in _views(rds, names, per_episode, max_content, max_message):
        summaries.append(s)
        details[s["key"]] = d
    caps = {"max_content": max_content, "max_events": per_episode, "max_message": max_message}
    return {**_page_data(rds, names, summaries, caps), "details": details}


def _run_names(rds: list[RunDir]) -> list[str]:
    """Short unique names of the runs: the folder name, with its parent when two folders share a name."""
    names = [rd.path.name for rd in rds]
    return [f"{rd.path.parent.name}/{n}" if names.count(n) > 1 else n for rd, n in zip(rds, names, strict=True)]


def _blob(x: Any) -> str:
    """JSON for inside a <script>: every '<', '>' and '&' escaped, so no tag can close early."""
    return _js(x).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _chunk(i: int, detail: dict) -> str:
    return f'<script type="application/json" id="ep-{i}">{_blob(detail)}</script>\n'


def render(view: dict) -> str:
    """The page of a build_view result: the template, the list as JSON, each episode's detail its own chunk
    (episode i of the list carries the number of its chunk)."""
    data = {k: v for k, v in view.items() if k != "details"}
    data["episodes"] = [{**s, "i": i} for i, s in enumerate(view["episodes"])]
    return _page([_chunk(i, view["details"][s["key"]]) for i, s in enumerate(view["episodes"])], data)


def _page(chunks: list[str], data: dict) -> str:
    page = resources.files("silo").joinpath("viewer_page.html").read_text(encoding="utf-8")
    head, tail = page.split(CHUNKS, 1)
    return head.replace(PLACEHOLDER, _blob(data), 1) + "".join(chunks) + tail


def write_viewer(run_dir: str | os.PathLike | list, out: str | os.PathLike | None = None, max_content: int = 2000,
                 max_events: int = 2000, event_budget: int = 200_000, max_message: int = 20_000) -> Path:
    """Write the viewer HTML of one or more runs (default FIRST_RUN/viewer.html); returns its path. Each
    episode's detail is encoded (secrets scrubbed) as soon as it is built: one episode in memory at a time."""
    from silo.scrub import scrub, secret_values

    first = run_dir if isinstance(run_dir, str | os.PathLike) else list(run_dir)[0]
    path = Path(out) if out else Path(first) / "viewer.html"
    secrets = secret_values()
    rds, names, count = _runs(run_dir)
    per_episode = max(100, min(max_events, event_budget // count))
    summaries, chunks = [], []
    for s, d in _views(rds, names, per_episode, max_content, max_message):
        s["i"] = len(chunks)
        chunks.append(_chunk(len(chunks), scrub(d, secrets)))
        summaries.append(scrub(s, secrets))
    caps = {"max_content": max_content, "max_events": per_episode, "max_message": max_message}
    html = _page(chunks, scrub(_page_data(rds, names, summaries, caps), secrets))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
