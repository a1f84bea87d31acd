"""Export a run as Inspect eval logs, so it opens in `inspect view` (optional extra: pip install silo-bench[inspect]).

One log per team configuration (team, models, prompt variant), one sample per episode. A sample's
messages are every agent's conversation in agent order, each message tagged with its agent in its
metadata: for LLM agents the last request as the model received it (rebuilt from the logged deltas,
docs/llm.md) and every reply; for scripted agents their private data and what they sent, wrote and
submitted. silo's scores are the sample's score `silo` (value: S, P, H, solved; answer: the
submissions; explanation: each agent's outcome and why), and its metadata carries the episode's
config, status and outcome classes. Errored episodes become samples with an error and no score.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from silo import __version__
from silo.analysis import explain, models_label
from silo.records import OUTCOMES, Episode, EpisodeScore
from silo.runner import RunDir, score_safely

SCORER = "silo"
VALUES = ("S", "P", "H", "solved")


class ExportError(ValueError):
    """A run that cannot be exported (or inspect_ai is missing)."""


def _inspect():
    try:
        import inspect_ai.log as log
        import inspect_ai.model as model
        import inspect_ai.scorer as scorer
        import inspect_ai.tool as tool
    except ImportError as e:
        raise ExportError("Inspect export needs inspect_ai: pip install 'silo-bench[inspect]'") from e
    return log, model, scorer, tool


def _js(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def _chat(m: dict, agent: int, model_mod, tool_mod):
    """One logged chat message as an Inspect ChatMessage tagged with its agent."""
    role, content = m.get("role"), m.get("content")
    text = content if isinstance(content, str) else _js(content) if content is not None else ""
    meta = {"agent": agent}
    if role == "system":
        return model_mod.ChatMessageSystem(content=text, metadata=meta)
    if role == "assistant":
        calls = [tool_mod.ToolCall(id=c.get("id") or f"call-{i}", function=c.get("function", {}).get("name", "?"),
                                   arguments=_args(c.get("function", {}).get("arguments")))
                 for i, c in enumerate(m.get("tool_calls") or [])]
        return model_mod.ChatMessageAssistant(content=text, tool_calls=calls or None, metadata=meta)
    if role == "tool":
        return model_mod.ChatMessageTool(content=text, tool_call_id=m.get("tool_call_id"), function=m.get("name"),
                                         metadata=meta)
    return model_mod.ChatMessageUser(content=text, metadata=meta)


def _args(a: Any) -> dict:
    if isinstance(a, dict):
        return a
    try:
        v = json.loads(a or "{}")
    except (TypeError, ValueError):
        return {"raw": a}
    return v if isinstance(v, dict) else {"value": v}


def agent_messages(ep: Episode, agent: int, model_mod, tool_mod) -> list:
    """The conversation of one agent: its last request and every reply (LLM), or its actions (scripted)."""
    full: list[dict] = []
    replies = []
    for e in ep.events:
        if e.kind != "model_call" or e.agent != agent or "prefix_len" not in e.data:
            continue
        full = full[:e.data["prefix_len"]] + list(e.data.get("messages") or [])
        resp = e.data.get("response")
        if e.data.get("purpose") != "prefill" and isinstance(resp, dict):
            replies.append((len(full), resp))
    if full:
        out, done = [], 0
        for upto, resp in replies:  # each reply sits right after the messages of the request it answered
            if upto < len(full) and full[upto].get("role") == "assistant":
                continue  # the history already holds it (the next request sent it back)
            out += [_chat(m, agent, model_mod, tool_mod) for m in full[done:upto]]
            out.append(_chat({"role": "assistant", **resp}, agent, model_mod, tool_mod))
            done = upto
        return out + [_chat(m, agent, model_mod, tool_mod) for m in full[done:]]
    out = [model_mod.ChatMessageUser(content=f"[agent {agent}] private data:\n{ep.instance.shards[agent].text}",
                                     metadata={"agent": agent})]
    for e in ep.events:
        if e.agent == agent and e.kind in ("send", "write", "submit"):
            what = e.content if e.kind != "submit" else _js(e.args.get("answer"))
            out.append(model_mod.ChatMessageAssistant(
                content=f"round {e.round} {e.kind}{' ' + (e.path or '') if e.kind == 'write' else ''}: {what}",
                metadata={"agent": agent, "round": e.round, "kind": e.kind}))
    return out


def _agents_meta(ep: Episode, sc: EpisodeScore) -> list[dict]:
    subs = {s.agent: s.answer for s in ep.submissions}
    out = []
    for a in sc.agents:
        row = {"agent": a.agent, "model": a.model, "outcome": a.outcome, "correct": a.correct,
               "partial": a.partial, "reach": a.reach, "evidence": a.evidence, "held": a.held,
               "submit_round": a.submit_round, "self_contained": a.self_contained,
               "answer": _js(subs.get(a.agent)) if a.agent in subs else None,
               "truth": _js(ep.instance.truth[a.agent])}
        row["why"] = explain(a.outcome, row)
        out.append(row)
    return out


def sample(ep: Episode, sc: EpisodeScore):
    """The Inspect sample of one episode."""
    log, model_mod, scorer, tool_mod = _inspect()
    agents = _agents_meta(ep, sc)
    msgs = [m for a in range(ep.instance.n_agents) for m in agent_messages(ep, a, model_mod, tool_mod)]
    outcomes = {o: sum(a["outcome"] == o for a in agents) for o in OUTCOMES}
    meta = {"task": ep.instance.task, "task_version": ep.instance.task_version, "level": ep.instance.level,
            "n_agents": ep.instance.n_agents, "protocol": ep.config.protocol, "team": ep.config.team,
            "models": ep.config.models or [], "prompt_variant": ep.config.prompt_variant,
            "replicate": ep.config.replicate, "instance_id": ep.instance.id, "status": ep.status,
            "rounds": ep.rounds, "max_rounds": ep.config.max_rounds, "action_budget": ep.config.action_budget,
            "outcomes": outcomes, "agents": agents, "set_apart": sc.set_apart, "scorer_version": sc.scorer_version}
    scores, error = None, None
    if ep.status == "error":
        error = log.EvalError(message=ep.error or "error", traceback=ep.error or "", traceback_ansi=ep.error or "")
    else:
        value = {"S": sc.success, "P": sc.partial, "H": sc.held, "solved": float(bool(sc.solved))}
        why = "\n".join(f"agent {a['agent']}: {a['outcome']}: {a['why']}" for a in agents)
        answers = {f"agent {s.agent}": s.answer for s in ep.submissions}
        scores = {SCORER: scorer.Score(value=value, answer=_js(answers),
                                       explanation=why, metadata={"outcomes": outcomes, "agents": agents})}
    reply = next((m.text for m in reversed(msgs) if m.role == "assistant"), "")
    usage = {ep.config.models[0] if ep.config.models else f"silo/{ep.config.team}": model_mod.ModelUsage(
        input_tokens=ep.usage.input_tokens, output_tokens=ep.usage.output_tokens,
        total_tokens=ep.usage.input_tokens + ep.usage.output_tokens, total_cost=ep.usage.cost_usd or None)}
    return log.EvalSample(
        id=ep.id, epoch=1, input=ep.instance.description, target=[_js(t) for t in ep.instance.truth],
        messages=msgs, output=model_mod.ModelOutput.from_content(_label(ep), reply), scores=scores,
        metadata=meta, error=error, model_usage=usage, total_time=ep.wall_s)


def _label(ep: Episode) -> str:
    return models_label(ep.config.models or []) or f"silo/{ep.config.team}"


def _log(run: str, key: tuple, samples: list, meta: dict):
    log, model_mod, _, _ = _inspect()
    team, models, variant = key
    ok = [s for s in samples if s.scores]
    metrics = {v: log.EvalMetric(name=v, value=sum(s.scores[SCORER].value[v] for s in ok) / len(ok) if ok else 0.0)
               for v in VALUES}
    now = dt.datetime.now(dt.UTC).isoformat()
    spec = log.EvalSpec(
        created=now, task=f"silo/{run}", task_version=0, model=models or f"silo/{team}",
        dataset=log.EvalDataset(name=run, samples=len(samples), sample_ids=[s.id for s in samples]),
        config=log.EvalConfig(), packages={"silo-bench": __version__},
        metadata={"team": team, "models": models, "prompt_variant": variant, "silo_git": meta.get("git"),
                  "run": meta.get("run", {})})
    results = log.EvalResults(total_samples=len(samples), completed_samples=len(ok),
                              scores=[log.EvalScore(name=SCORER, scorer=SCORER, scored_samples=len(ok),
                                                    unscored_samples=len(samples) - len(ok), metrics=metrics)])
    return log.EvalLog(eval=spec, plan=log.EvalPlan(), results=results,
                       status="success" if len(ok) == len(samples) else "error",
                       stats=log.EvalStats(started_at=now, completed_at=now), samples=samples)


def export_inspect(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write one .eval log per team configuration of a run (default RUN/inspect/); returns their paths."""
    log, _, _, _ = _inspect()
    rd = RunDir(run_dir)
    if not rd.episodes_dir.is_dir() or not rd.episode_files():
        raise ExportError(f"not a run directory with episodes: {rd.path}")
    meta = json.loads((rd.path / "config.json").read_text()) if (rd.path / "config.json").is_file() else {}
    groups: dict[tuple, list] = defaultdict(list)
    for ep in rd.episodes():
        key = (ep.config.team, models_label(ep.config.models or []), ep.config.prompt_variant)
        groups[key].append(sample(ep, score_safely(ep)))
    out = Path(out_dir) if out_dir else rd.path / "inspect"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for key in sorted(groups):
        name = "-".join(x for x in key if x).replace("/", "_").replace("+", "_")
        path = out / f"{rd.path.name}-{name}.eval"
        log.write_eval_log(_log(rd.path.name, key, sorted(groups[key], key=lambda s: s.id), meta), str(path))
        paths.append(path)
    return paths
