"""What `silo tasks` shows: one task's facts, an example instance and its guessability (text or JSON)."""

from __future__ import annotations

import json
from typing import Any

from silo.tasks import all_tasks, get_task
from silo.tasks.base import TaskSpec


def _guessability(t: TaskSpec) -> dict | None:
    """The task's row of the bundled guessability table (None when the table has none)."""
    from silo.resources import load_json

    rows = load_json("guessability.json") or []  # an optional artefact: a task it lacks shows as unknown
    key = getattr(t, "key", t.id)
    return next((r for r in rows if r.get("key", r.get("task")) == key), None)


def summary(t: TaskSpec) -> dict[str, Any]:
    """The facts of one task (one row of `silo tasks --json`)."""
    row = _guessability(t)
    return {"id": t.id, "slug": t.slug, "name": t.name, "level": t.level, "version": t.version,
            "answer_kind": t.answer_kind, "answer_format": t.answer_format, "tolerance": t.tolerance,
            "optimal_topology": t.optimal_topology, "oracle": t.oracle,
            "guessable": None if row is None else bool(row.get("guessable", not row.get("within", True))),
            "source": type(t).__module__}


def detail(key: str, n: int = 3, seed: int = 0) -> dict[str, Any]:
    """One task in full: its facts, the description agents read, an example instance, guessability."""
    t = get_task(key)
    inst = t.make_instance(n, seed)
    doc = (type(t).__doc__ or "").strip()
    return {**summary(t), "doc": doc, "description": inst.description, "guessability": _guessability(t),
            "example": {"n_agents": n, "seed": seed, "params": inst.params,
                        "shards": [s.text for s in inst.shards], "truth": inst.truth}}


def listing() -> list[dict[str, Any]]:
    return [summary(t) for t in all_tasks()]


def render(d: dict[str, Any]) -> str:
    """`silo tasks ID` as text."""
    g = d["guessability"]
    lines = [f"{d['id']}  {d['name']}  (level {d['level']}, v{d['version']}, slug {d['slug']})", "",
             d["doc"] or "", "",
             f"answer: {d['answer_kind']}, {d['answer_format']}" + (f" (tolerance {d['tolerance']})"
                                                                    if d["tolerance"] else ""),
             f"optimal topology: {d['optimal_topology']} (oracle strategy: {d['oracle']})",
             "guessability (best trivial strategy, share of agents right / budget): " + _guess_text(g),
             "", f"example instance (N = {d['example']['n_agents']}, seed {d['example']['seed']}):",
             "description: " + d["description"]]
    for a, text in enumerate(d["example"]["shards"]):
        lines.append(f"agent {a} shard: {text[:300]}")
    lines.append(f"truth per agent: {json.dumps(d['example']['truth'])[:600]}")
    return "\n".join(lines)


def _guess_text(g: dict | None) -> str:
    if g is None:
        return "not measured"
    cells = g.get("cells")
    if not cells:  # an older table: one rate per strategy
        return json.dumps({k: v for k, v in g.items() if k not in ("task", "name")})
    return "; ".join(f"N={n}: {c['best']} {c['rate']:.0%} / {c['budget']:.0%}" for n, c in cells.items())
