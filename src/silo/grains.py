"""Rows of the episode and agent grains (analysis builds its tables from them): an episode's config columns,
headline scores, outcome shares and communication (fidelity, leaders, departed sends from its report facts), and
one row per agent with the automatic explanation of its outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from silo.metrics import NONE, jaccard, leaders, link_summary_array, message_rows, redundancy, task_optimal_edges
from silo.records import OUTCOMES, Episode, EpisodeScore
from silo.report_facts import facts_of
from silo.tasks import UnknownTaskError, get_task


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
    counts = Counter(a.outcome for a in comm_agents)  # one pass over the agents, not one per outcome
    shares = {o: (counts[o] / k if some else None) for o in OUTCOMES}
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
