"""A self-contained static HTML viewer of a run: one file, inline JS/CSS, the data embedded as JSON.

Works from file:// with no server. To keep the file a sane size on big runs, event content is cut to
`max_content` characters, and each episode shows at most `max_events` events (fewer when the run is big:
the whole file holds at most about `event_budget` events); the page says where it cut.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from silo.records import OUTCOMES, Episode, EpisodeScore, Event
from silo.runner import RunDir
from silo.scoring import score_episode

PLACEHOLDER = "__SILO_DATA__"
SKIPPED_KINDS = {"wait"}  # one per agent per round: noise in a timeline
USAGE_KEYS = {"model", "input_tokens", "output_tokens", "cached_tokens", "cost_usd", "latency_s"}


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
        s = f"from A{e.sender} (msg {e.msg_id}, {e.chars} chars)"
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


def heatmap(ep: Episode) -> list[list[int]]:
    """counts[sender][receiver]: messages delivered, plus reads of one agent's files by another."""
    n = ep.instance.n_agents
    m = [[0] * n for _ in range(n)]
    for e in ep.events:
        if e.kind == "deliver" and e.sender is not None:
            m[e.sender][e.agent] += 1
        elif e.kind == "read" and e.sender is not None and e.sender != e.agent:
            m[e.sender][e.agent] += 1
    return m


def episode_view(ep: Episode, sc: EpisodeScore, max_content: int, max_events: int) -> tuple[dict, dict]:
    """(list entry, detail) of one episode."""
    n = ep.instance.n_agents
    outcomes = {o: 0 for o in OUTCOMES}
    for a in sc.agents:
        outcomes[a.outcome] += 1
    summary = {"id": ep.id, "task": ep.instance.task, "level": ep.instance.level, "n": n,
               "protocol": ep.config.protocol, "team": ep.config.team, "variant": ep.config.prompt_variant,
               "status": ep.status, "rounds": ep.rounds, "S": sc.success, "P": sc.partial, "H": sc.held,
               "solved": sc.solved, "consensus_failure": sc.consensus_failure, "messages": sc.messages,
               "outcomes": {k: v for k, v in outcomes.items() if v}}
    subs = {s.agent: s for s in ep.submissions}
    agents = []
    for a in sc.agents:
        sub = subs.get(a.agent)
        agents.append({"agent": a.agent, "answer": _cut(_js(sub.answer), max_content) if sub else None,
                       "truth": _cut(_js(ep.instance.truth[a.agent]), max_content), "round": a.submit_round,
                       "correct": a.correct, "partial": a.partial, "reach": a.reach, "evidence": a.evidence,
                       "held": a.held, "outcome": a.outcome, "model": a.model})
    events = [v for v in (event_view(e, n, max_content) for e in ep.events) if v is not None]
    detail = {"description": _cut(ep.instance.description, 2000), "error": ep.error, "agents": agents,
              "heat": heatmap(ep), "events": events[:max_events], "events_total": len(events),
              "usage": ep.usage.model_dump(), "instance": ep.instance.id}
    return summary, detail


def build_view(run_dir: str | os.PathLike, max_content: int = 300, max_events: int = 2000,
               event_budget: int = 200_000) -> dict:
    """The data embedded in the page: run metadata, episode list and per-episode details."""
    rd = RunDir(run_dir)
    if not rd.episodes_dir.is_dir():
        raise ViewerError(f"not a run directory (no episodes/): {rd.path}")
    files = rd.episode_files()
    if not files:
        raise ViewerError(f"run directory has no episodes: {rd.path}")
    per_episode = max(100, min(max_events, event_budget // len(files)))
    summaries, details = [], {}
    for ep in rd.episodes():
        s, d = episode_view(ep, score_episode(ep), max_content, per_episode)
        summaries.append(s)
        details[ep.id] = d
    summaries.sort(key=lambda s: (s["level"], s["task"], s["n"], s["protocol"], s["team"], s["id"]))
    meta = {}
    if (rd.path / "config.json").is_file():
        meta = json.loads((rd.path / "config.json").read_text())
    return {"run": str(rd.path), "silo_version": meta.get("silo_version"), "git": meta.get("git"),
            "caps": {"max_content": max_content, "max_events": per_episode}, "outcomes": list(OUTCOMES),
            "episodes": summaries, "details": details}


def render(view: dict) -> str:
    """The page: the template with the view embedded as JSON (every '<' escaped, so no tag can close early)."""
    page = resources.files("silo").joinpath("viewer_page.html").read_text(encoding="utf-8")
    blob = _js(view).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return page.replace(PLACEHOLDER, blob, 1)


def write_viewer(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, **caps) -> Path:
    """Write the viewer HTML (default RUN/viewer.html); returns its path."""
    from silo.publish import scrub, secret_values

    path = Path(out) if out else Path(run_dir) / "viewer.html"
    html = render(scrub(build_view(run_dir, **caps), secret_values()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
