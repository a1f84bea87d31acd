"""Compute-matched single agent (issue 17, point 5): does the team beat one agent with the same compute?

`silo run --matched TEAM_RUN -o OUT` runs, for every completed all-LLM team episode (N >= 2) of TEAM_RUN,
one N = 1 episode on the same task and replicate (the instance the usual N = 1 baseline uses) whose
agent may spend at most that team episode's total tokens (input + output, as Episode.usage counts them).
The budget and the team episode are kept in the matched episode's config (`extra.token_budget`,
`extra.matched_episode`), so the id, the record and a resume all carry them.

Enforcement (`CappedAgent`, applied by runner.run_one for every executor): before each model call the
agent's tokens so far are compared with its budget; once they reach it no further call starts and the
agent is *stopped*: what it submitted before stands, else it has no answer (scored `no_answer`; the
episode then idles to max_rounds, no call made). The call that crosses the budget completes and is
counted, as with the run-level --max-total-tokens, so the agent spends at most budget + one call. A
`note` event `{"token_budget": {...}}` records the stop. The agent is not told its budget (nor is a team).

Scripted teams spend no tokens, so there is nothing to match: only `llm` teams whose every agent is a
model (no partner or scripted slot) are matched; the others are skipped and counted.

`equal_budget(rows)` gives per (N, protocol) the usual RCC = 1 - S(N=k) / S(N=1) and the RCC at equal
budget (the matched agent as S(N=1)), both over task means with a bootstrap over tasks, and the paired
difference S(team) - S(matched agent) with an interval clustered by instance.
"""

from __future__ import annotations

import contextvars
import math
from pathlib import Path
from typing import TYPE_CHECKING

from silo.records import EpisodeConfig, Event, RunConfig

if TYPE_CHECKING:  # the running half imports these when it runs: a report reads matched runs without them
    from silo.episode import Turn

MATCHED_TO = "matched_to"  # run-level: the team run directory (not part of any episode config)
TOKEN_BUDGET = "token_budget"  # episode-level: the single agent's token budget
MATCHED_EPISODE = "matched_episode"  # episode-level: the team episode whose total it is
SPENT = "episode token budget spent"


def tokens(events) -> int:
    """Input + output tokens of the model calls among `events` (Episode.usage's count)."""
    return sum(e.data.get("input_tokens", 0) + e.data.get("output_tokens", 0) for e in events if e.kind == "model_call")


class _Cap:
    """The run budget seen by one capped turn: refuses a call once the agent's tokens reach its budget."""

    def __init__(self, agent: CappedAgent, turn: Turn):
        self.agent, self.turn, self.outer = agent, turn, None

    def used(self) -> int:
        return self.agent.spent + tokens(self.turn.events)

    def exceeded(self) -> str | None:
        why = self.outer.exceeded() if self.outer is not None else None
        if why is None and self.used() >= self.agent.budget:
            return f"{SPENT} ({self.used():,} of {self.agent.budget:,} tokens)"
        return why

    def charge(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        if self.outer is not None:  # the run budget still counts every call
            self.outer.charge(input_tokens, output_tokens, cost_usd)


class CappedAgent:
    """Wraps an agent: its model calls stop when its tokens in this episode reach `budget` (see module doc)."""

    def __init__(self, inner, budget: int):
        self.inner, self.budget = inner, int(budget)
        self.spent = 0
        self.stopped = False

    async def take_turn(self, turn: Turn) -> None:
        from silo import llm
        from silo.episode import AgentFailure

        if self.stopped:
            return
        if self.spent >= self.budget:
            return self._stop(turn)
        cap = _Cap(self, turn)
        token = llm.use_budget(cap)
        outer = token.old_value  # the run budget this context had (runner._Meter), kept and charged
        cap.outer = None if outer is contextvars.Token.MISSING else outer
        try:
            await self.inner.take_turn(turn)
        except AgentFailure as e:
            if SPENT not in str(e):
                raise
            self._stop(turn)
        finally:
            llm.release_budget(token)
            self.spent += tokens(turn.events)

    def _stop(self, turn: Turn) -> None:
        self.stopped = True
        used = self.spent + tokens(turn.events)
        turn.log(Event(round=turn.round, agent=turn.agent, kind="note",
                       data={"token_budget": {"budget": self.budget, "used": used, "stopped": True}}))


def capped(agents: list, budget: int | None) -> list:
    """The agents, each capped at `budget` tokens (unchanged when there is no budget)."""
    return agents if budget is None else [CappedAgent(a, budget) for a in agents]


# ---- the matched run -------------------------------------------------------------------------------------
def eligible(ep) -> bool:
    """A team episode the matched baseline applies to: completed (not errored), N >= 2, every agent a model."""
    models = ep.config.models or []
    return (ep.config.team == "llm" and ep.config.n_agents > 1 and ep.status != "error"
            and not any(m.startswith(("partner:", "scripted:")) for m in models))


def matched_config(team_dir: str | Path) -> RunConfig:
    """The run config of a matched run: the team run's, at N = 1, pointing at the team run."""
    from silo.runner import RunDir

    rc = RunDir(team_dir).saved_config()
    if rc is None:
        raise ValueError(f"--matched {team_dir}: not a run directory (no config.json)")
    extra = {k: v for k, v in rc.extra.items() if k not in ("instances_source", MATCHED_TO)}
    return rc.model_copy(update={"n_agents": [1], "teams": ["llm"], "suite": f"{rc.suite}-matched",
                                 "extra": {**extra, MATCHED_TO: str(team_dir)}})


def matched_specs(rc: RunConfig) -> list:
    """One N = 1 episode spec per eligible team episode on disk, budgeted at that episode's total tokens."""
    from silo.rundir import RUNTIME_KEYS
    from silo.runner import RUN_ONLY_KEYS, EpisodeSpec, RunDir, resolve_models

    team = RunDir(rc.extra[MATCHED_TO])
    models = resolve_models(rc.models, 1)
    if models and models[0].startswith(("partner:", "scripted:")):
        raise ValueError(f"the matched single agent must be a model, not {models[0]!r}: give --model")
    extra = {k: v for k, v in rc.extra.items() if k not in RUN_ONLY_KEYS and k != MATCHED_TO}
    runtime = {k: v for k, v in rc.extra.items() if k in RUNTIME_KEYS}
    specs = []
    for ep in sorted((e for e in team.episodes() if eligible(e)), key=lambda e: e.id):
        c = ep.config
        cfg = EpisodeConfig(task=c.task, n_agents=1, protocol="none", team="llm", models=models,
                            prompt_variant=c.prompt_variant, replicate=c.replicate, suite_seed=c.suite_seed,
                            max_rounds=rc.max_rounds, action_budget=rc.action_budget,
                            extra={**extra, TOKEN_BUDGET: ep.usage.input_tokens + ep.usage.output_tokens,
                                   MATCHED_EPISODE: ep.id})
        specs.append(EpisodeSpec(cfg, runtime=runtime))
    if not specs:
        raise ValueError(f"--matched {team.path}: no completed all-LLM team episode with N >= 2 to match "
                         "(scripted teams spend no tokens)")
    return specs


# ---- analysis --------------------------------------------------------------------------------------------
def pair_rows(team_dir: str | Path, matched_dir: str | Path) -> list[dict]:
    """One row per matched episode: its team episode's S, the usual N = 1 agent's S on the same instance
    (None if the team run has none), the matched agent's S, budget, tokens used and whether it was stopped.
    Errored matched episodes are dropped (never scored as wrong); errored usual N = 1 episodes give None."""
    from silo.analysis import task_key
    from silo.rundir import RunDir

    team_scores = {s.episode_id: s for s in RunDir(team_dir).scores()}
    usual = {_usual_key(s): s.success for s in team_scores.values()
             if s.n_agents == 1 and s.team == "llm" and s.status != "error"}
    mrd = RunDir(matched_dir)
    matched = {s.episode_id: s for s in mrd.scores()}
    rows = []
    for ep in mrd.episodes():
        m, t = matched.get(ep.id), team_scores.get(ep.config.extra.get(MATCHED_EPISODE, ""))
        budget = ep.config.extra.get(TOKEN_BUDGET)
        if m is None or t is None or m.status == "error" or budget is None:
            continue
        if budget != t.usage.input_tokens + t.usage.output_tokens:
            continue  # the team episode was re-run since: this budget is stale
        rows.append({"task": task_key(t.task, t.task_version), "level": t.level, "n_agents": t.n_agents,
                     "protocol": t.protocol, "instance_id": m.instance_id, "S_team": t.success,
                     "S_single": usual.get(_usual_key(m)), "S_matched": m.success,
                     "budget": budget, "used": ep.usage.input_tokens + ep.usage.output_tokens,
                     "stopped": any(e.kind == "note" and "token_budget" in e.data for e in ep.events)})
    return sorted(rows, key=lambda r: (r["n_agents"], r["protocol"], r["task"], r["instance_id"]))


def _usual_key(s) -> tuple:
    """The usual N = 1 agent a matched one is compared with: same instance, prompt and model."""
    return s.instance_id, s.prompt_variant, s.agents[0].model if s.agents else None


def equal_budget(rows: list[dict]) -> list[dict]:
    """Per (N, protocol): tasks, pairs, S_k, S_1 (usual), S_1m (matched), RCC and RCC at equal budget with
    bootstrap intervals over tasks (as metrics.rcc), dS = S(team) - S(matched) with an interval clustered
    by instance, mean budget and used tokens, and the share of matched agents stopped by their budget."""
    from silo.stats import cluster_bootstrap, ratio_bootstrap

    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault((r["n_agents"], r["protocol"]), []).append(r)
    out = []
    for (n, proto), rs in sorted(cells.items()):
        tasks = sorted({r["task"] for r in rs})
        by = {t: [r for r in rs if r["task"] == t] for t in tasks}
        sk = [_mean(r["S_team"] for r in by[t]) for t in tasks]
        s1m = [_mean(r["S_matched"] for r in by[t]) for t in tasks]
        with_usual = [t for t in tasks if all(r["S_single"] is not None for r in by[t])]
        usual = ratio_bootstrap([_mean(r["S_team"] for r in by[t]) for t in with_usual],
                                [_mean(r["S_single"] for r in by[t]) for t in with_usual])
        eq = ratio_bootstrap(sk, s1m)
        ds = cluster_bootstrap([r["S_team"] - r["S_matched"] for r in rs], [r["instance_id"] for r in rs])
        out.append({"n_agents": n, "protocol": proto, "tasks": len(tasks), "pairs": len(rs),
                    "S_k": _mean(sk), "S_1": _mean(_mean(r["S_single"] for r in by[t]) for t in with_usual),
                    "S_1m": _mean(s1m), "RCC": usual.value, "RCC_lo": usual.lo, "RCC_hi": usual.hi,
                    "RCC_matched": eq.value, "RCC_matched_lo": eq.lo, "RCC_matched_hi": eq.hi,
                    "dS": ds.value, "dS_lo": ds.lo, "dS_hi": ds.hi,
                    "budget": _mean(r["budget"] for r in rs), "used": _mean(r["used"] for r in rs),
                    "stopped": _mean(float(r["stopped"]) for r in rs)})
    return out


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else math.nan


HEADER = ["N", "protocol", "tasks", "pairs", "S team", "S single", "S matched", "RCC [95% CI]",
          "RCC equal budget [95% CI]", "S team - S matched [95% CI]", "budget", "used", "stopped"]


def cells(table: list[dict]) -> list[list[str]]:
    """The equal-budget table as display strings (S and dS in percent), one list per row, HEADER's order."""
    def f(x, pct=False):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "-"
        return f"{100 * x:.1f}" if pct else f"{x:.2f}"

    def ci(r, k, pct=False):
        return f"{f(r[k], pct)} [{f(r[k + '_lo'], pct)}, {f(r[k + '_hi'], pct)}]"

    return [[str(r["n_agents"]), r["protocol"], str(r["tasks"]), str(r["pairs"]), f(r["S_k"], True),
             f(r["S_1"], True), f(r["S_1m"], True), ci(r, "RCC"), ci(r, "RCC_matched"), ci(r, "dS", True),
             f"{r['budget']:.0f}", f"{r['used']:.0f}", f(r["stopped"], True)] for r in table]


def markdown(table: list[dict]) -> str:
    """The equal-budget table as markdown."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells(table)])


def report_blocks(sources) -> list:
    """Report section for every source that is a matched run (its team run read from its config)."""
    import polars as pl

    from silo.report import Block
    from silo.rundir import RunDir, RunDirError

    blocks = []
    for src in sources or []:
        rc = RunDir(src).saved_config()
        if rc is None or MATCHED_TO not in rc.extra:
            continue
        blocks.append(Block("h2", f"Compute-matched single agent ({src} against {rc.extra[MATCHED_TO]})"))
        if len(sources) > 1 and not all(is_matched_run(s) for s in sources):
            blocks.append(Block("p", f"The episodes of {Path(src).name} are left out of every other table and "
                                     f"of the RCC above (a matched agent is not a second N = 1 baseline)."))
        try:
            rows = cells(equal_budget(pair_rows(rc.extra[MATCHED_TO], src)))
        except (RunDirError, OSError, ValueError) as e:  # the team run moved or was never scored
            blocks.append(Block("warn", f"no equal-budget table: {e}"))
            continue
        blocks += [Block("p", "S in percent. RCC = 1 - S(N=k) / S(N=1) with the usual N = 1 agent, and at equal "
                              "budget with the N = 1 agent given each team episode's tokens; S team - S matched "
                              "> 0: the team beats one agent with the same compute (docs/probes.md)."),
                   Block("table", table=pl.DataFrame(rows, schema=HEADER, orient="row"))]
    return blocks


def is_matched_run(src) -> bool:
    """Whether a run directory is a matched run (`silo run --matched`), read from its saved config."""
    from silo.rundir import RunDir

    rc = RunDir(src).saved_config()
    return rc is not None and MATCHED_TO in rc.extra


def without_matched(tables, sources) -> tuple:
    """The report's tables without the episodes of matched runs, when other runs are reported beside them.

    A matched agent is an N = 1 agent on a token budget: left in, it would join the usual N = 1 agent in
    S(N=1) and every RCC, and pose as a second single-agent baseline. Its own section (report_blocks)
    compares it with its team run. Returns (tables, the run names set apart)."""
    from silo.analysis import Tables

    sources = [str(s) for s in sources or []]
    matched = [s for s in sources if is_matched_run(s)]
    if not matched or len(matched) == len(sources):
        return tables, []
    names = {Path(s).name for s in matched}
    eps = tables.episodes.filter(~tables.episodes["run"].is_in(sorted(names)))
    keep = eps.select("episode_id", "run")

    def kept(df):
        return df.join(keep, on=["episode_id", "run"], how="semi") if df is not None and len(df) else df
    return Tables(eps, kept(tables.agents), kept(tables.messages), kept(tables.links)), sorted(names)
