"""Hand-written transcripts -> real silo Episodes, replayed through the engine itself.

A transcript (one TOML file in this folder, see README.md) names a task, N, a protocol and a suite
seed, and lists each agent's actions round by round. Message, file and answer text is written
literally, with `{{ expr }}` placeholders filled from the generated instance (so the content is
right for whatever the current generator produces). The builder generates the instance with the
task's own generator, then runs the real round loop (silo.episode.run_episode) with one replay
agent per shard that performs exactly the transcript's actions: the event log is the engine's own.

Placeholders and `submit` answers are Python expressions over:
  S  shard data (S[j] is agent j's data)     T  truth (T[j] is agent j's correct answer)
  P  public params    N  number of agents    me  the acting agent (in its own actions)
  text(j)  shard j as rendered in its prompt      solve(*js)  the answer over shards js only
  js(x) JSON   csv(xs)   th(x) thousands separators   f2(x) 2 decimals   wrong(x) a wrong variant
  table(headers, rows) markdown table   bullets(xs)   lines(xs)   Counter, math, statistics
`define` (optional) is Python source of helper functions for the placeholders. `require` (optional)
is an expression that must hold for the instance (e.g. "the global max is in shard 1"); the builder
takes the first replicate 0, 1, 2, ... whose instance satisfies it.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from silo.episode import Turn, run_episode, run_sync
from silo.records import Action, Episode, EpisodeConfig, Instance, deliveries
from silo.tasks import get_task
from silo.tasks.base import wrong_answer

HERE = Path(__file__).parent
CLASSES = ("correct", "lucky", "uninformed", "relay_loss", "integration_error", "no_answer")
MAX_REPLICATES = 400
_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}", re.S)
# transcript verbs -> (engine action, argument names)
VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "send": ("send_message", ("target_id", "content")),
    "broadcast": ("broadcast_message", ("content",)),
    "receive": ("receive_messages", ()),
    "list_agents": ("list_agents", ()),
    "write": ("write_file", ("path", "content")),
    "read": ("read_file", ("path",)),
    "list": ("list_files", ("prefix",)),
    "delete": ("delete_file", ("path",)),
    "submit": ("submit_result", ("answer",)),
    "wait": ("wait", ()),
}


@dataclass
class Expect:
    """The class an agent must get, decided from what the transcript conveys, and why."""

    agent: int
    outcome: str
    why: str
    self_contained: bool = False


@dataclass
class Transcript:
    """One parsed transcript file."""

    id: str
    task: str
    n: int
    protocol: str
    seed: int
    title: str
    require: str | None
    turns: dict[tuple[int, int], list[list]]  # (round, agent) -> raw actions
    expect: list[Expect]
    rounds: int
    episode: dict[str, Any] = field(default_factory=dict)
    define: str = ""  # Python source of helper functions the placeholders may call


def load(path: Path) -> Transcript:
    """Parse and validate one transcript file."""
    d = tomllib.loads(path.read_text())
    n = int(d["n"])
    turns: dict[tuple[int, int], list[list]] = {}
    for rnd, table in enumerate(d["round"], start=1):
        unknown = set(table) - {"all"} - {f"a{a}" for a in range(n)}
        if unknown:
            raise ValueError(f"{path.name}: round {rnd}: unknown keys {sorted(unknown)} (use a0..a{n - 1}, all)")
        for a in range(n):
            raw = table.get(f"a{a}", table.get("all"))
            if raw is None:
                continue
            for act in raw:
                if not act or act[0] not in VERBS or len(act) - 1 != len(VERBS[act[0]][1]):
                    raise ValueError(f"{path.name}: bad action {act!r} (round {rnd}, agent {a})")
            turns[(rnd, a)] = raw
    expect = [Expect(int(e["agent"]), e["class"], e["why"], bool(e.get("self_contained", False)))
              for e in d["expect"]]
    if sorted(e.agent for e in expect) != list(range(n)):
        raise ValueError(f"{path.name}: expect must list every agent 0..{n - 1} once")
    bad = [e.outcome for e in expect if e.outcome not in CLASSES]
    if bad:
        raise ValueError(f"{path.name}: unknown class(es) {bad}")
    return Transcript(id=path.stem, task=d["task"], n=n, protocol=d["protocol"], seed=int(d["seed"]),
                      title=d.get("title", ""), require=d.get("require"), turns=turns, expect=expect,
                      rounds=len(d["round"]), episode=d.get("episode", {}),
                      define=d.get("define", ""))


def all_transcripts() -> list[Path]:
    """Every transcript file in this folder, sorted by name."""
    return sorted(HERE.glob("*.toml"))


# ---- rendering helpers available inside placeholders --------------------------------------------------
def _js(x: Any) -> str:
    return json.dumps(x)


def _csv(xs, sep: str = ", ") -> str:
    return sep.join(str(x) for x in xs)


def _th(x) -> str:
    """Thousands separators: 1234 -> '1,234', 1234.5 -> '1,234.50'."""
    return f"{x:,}" if isinstance(x, int) else f"{x:,.2f}"


def _f2(x) -> str:
    return f"{x:.2f}"


def _table(headers, rows) -> str:
    out = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(out)


def _bullets(xs) -> str:
    return "\n".join(f"- {x}" for x in xs)


def _lines(xs) -> str:
    return "\n".join(str(x) for x in xs)


def namespace(inst: Instance, me: int | None = None, define: str = "") -> dict[str, Any]:
    """Names a placeholder or an answer expression may use (plus the transcript's own `define`)."""
    task = get_task(inst.task)
    shards = [s.data for s in inst.shards]

    def solve(*js: int):
        return task.solve([shards[j] for j in js], inst.params)[0]

    ns = {
        "S": shards, "T": inst.truth, "P": inst.params, "N": inst.n_agents, "me": me, "inst": inst,
        "text": lambda j: inst.shards[j].text, "solve": solve, "js": _js, "csv": _csv, "th": _th, "f2": _f2,
        "wrong": wrong_answer, "table": _table, "bullets": _bullets, "lines": _lines,
        "Counter": Counter, "math": math, "statistics": statistics,
    }
    if define:
        exec(define, ns)  # noqa: S102 - helper functions written in the transcript itself
    return ns


def render(template: str, ns: dict[str, Any]) -> str:
    """Fill every {{ expr }} of a template; strings as they are, other values as JSON."""
    def fill(m: re.Match) -> str:
        v = eval(m.group(1), ns)  # noqa: S307 - our own test data, not external input
        return v if isinstance(v, str) else json.dumps(v)

    return _PLACEHOLDER.sub(fill, template)


def instance_for(t: Transcript) -> Instance:
    """The transcript's instance: the first replicate whose instance satisfies `require`."""
    task = get_task(t.task)
    for rep in range(MAX_REPLICATES):
        inst = task.make_instance(t.n, t.seed, rep)
        if t.require is None or eval(t.require, namespace(inst, define=t.define)):  # noqa: S307
            return inst
    raise ValueError(f"{t.id}: no replicate < {MAX_REPLICATES} satisfies require: {t.require}")


def actions_of(t: Transcript, inst: Instance) -> dict[tuple[int, int], list[Action]]:
    """Every turn's raw actions turned into engine Actions, placeholders filled."""
    out = {}
    for (rnd, agent), raw in t.turns.items():
        ns = namespace(inst, agent, t.define)
        acts = []
        for verb, *args in raw:
            name, argnames = VERBS[verb]
            if verb == "submit":
                values = [eval(args[0], ns)]  # noqa: S307
            else:
                values = [render(a, ns) if isinstance(a, str) else a for a in args]
            acts.append(Action(name=name, args=dict(zip(argnames, values, strict=True))))
        out[(rnd, agent)] = acts
    return out


class ReplayAgent:
    """Performs exactly the transcript's actions for this agent in each round, then waits."""

    def __init__(self, agent: int, script: dict[int, list[Action]], errors: list[str]):
        self.agent, self.script, self.errors = agent, script, errors

    async def take_turn(self, turn: Turn) -> None:
        for action in self.script.get(turn.round, []):
            ok, result = turn.do(action)
            if not ok:
                self.errors.append(f"round {turn.round}, agent {self.agent}, {action.name}: {result}")
        if not turn.done:
            turn.do(Action(name="wait"))


def build(t: Transcript) -> Episode:
    """Run the transcript through the real engine; a rejected action is a transcript bug (raises)."""
    inst = instance_for(t)
    acts = actions_of(t, inst)
    errors: list[str] = []
    agents = [ReplayAgent(a, {r: v for (r, b), v in acts.items() if b == a}, errors) for a in range(t.n)]
    cfg = EpisodeConfig(task=inst.task, n_agents=t.n, protocol=t.protocol, team="transcript",
                        suite_seed=t.seed, replicate=inst.replicate, max_rounds=t.rounds)
    ep = run_sync(run_episode(inst, cfg, agents))
    if errors or ep.status == "error":
        raise ValueError(f"{t.id}: the engine rejected actions: {errors or ep.error}")
    return ep


def reach_sets(ep: Episode) -> dict[int, frozenset[int]]:
    """Each agent's reach set when it submitted (or at the end), replayed independently of the scorer.

    Same rules as docs/design.md: a send or write snapshots its author's set; a deliver, read or
    listing merges the snapshot of what it shows into the reader's set."""
    k = {a: {a} for a in range(ep.instance.n_agents)}
    msgs: dict[int, frozenset[int]] = {}
    files: dict[int, frozenset[int]] = {}
    at: dict[int, frozenset[int]] = {}
    for e in ep.events:
        if e.kind == "send":
            msgs[e.msg_id] = frozenset(k[e.agent])
        elif e.kind == "write":
            files[e.version] = frozenset(k[e.agent])
        elif e.kind == "deliver":  # one receive lists every message it delivered (old logs: one each)
            for m, _ in deliveries(e):
                k[e.agent] |= msgs[m]
        elif e.kind == "read":
            k[e.agent] |= files[e.version]
        elif e.kind == "list":
            for v in e.versions or []:
                k[e.agent] |= files[v]
        elif e.kind == "submit":
            at.setdefault(e.agent, frozenset(k[e.agent]))
    return {a: at.get(a, frozenset(k[a])) for a in k}


def show(tid: str) -> str:
    """The rendered conversation of one transcript with expected and scored classes (for reviewers)."""
    from silo.scoring import score_episode

    t = load(HERE / f"{tid}.toml")
    ep = build(t)
    out = [f"{t.id}: {t.title} ({t.task}, N={t.n}, {t.protocol}, instance {ep.instance.id})"]
    for e in ep.events:
        if e.kind in ("send", "write"):
            out.append(f"r{e.round} agent {e.agent} {e.kind} -> {e.to if e.kind == 'send' else e.path}:\n"
                       + "\n".join("    " + line for line in (e.content or "").splitlines()))
        elif e.kind in ("deliver", "read", "list", "submit"):
            what = {"deliver": [m for m, _ in deliveries(e)], "read": e.path, "list": e.versions,
                    "submit": e.args.get("answer")}[e.kind]
            out.append(f"r{e.round} agent {e.agent} {e.kind} {what}")
    scores = {a.agent: a for a in score_episode(ep).agents}
    for x in t.expect:
        s = scores[x.agent]
        out.append(f"agent {x.agent}: expected {x.outcome}, scored {s.outcome} (reach {s.reach}, evidence "
                   f"{s.evidence}) - {x.why}")
    return "\n".join(out)


if __name__ == "__main__":  # python tests/transcripts/builder.py ID [ID ...]
    import sys

    print("\n\n".join(show(tid) for tid in sys.argv[1:]))
