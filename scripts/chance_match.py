"""Chance-match rates of every evidence fingerprint kind, per task (the coincidence guards' numbers).

For a fingerprint of shard j (raw items, the statistic of {j}, a claim about {j}) it counts how often
it matches, under the scorer's strict rule, content that does NOT carry j's information:
- "distribution": the rendered shard and the star partial of every agent of an independent instance
  of the same task and N (content drawn from the task's own value distribution);
- "own shard": the rendered shard and partial of every other agent k != j of the same instance
  (what a sender typically pastes: its own shard).
Claims (short statements of a statistic) are credited only for the author's own shard or for a set of
several shards. "claim2" is the claim about {j, j+1} against content of agents outside the pair: the
rate that decides evidence.CLAIMS_OFF. "claim" is the labelled form ("apple: 5") of the claim about
{j} against the content of agents whose own claim differs (a relayed claim of one foreign shard
counts only then; an author's claim about its own shard is credited on authorship).
A kind whose rate exceeds evidence.CHANCE_THRESHOLD is reported; for claims the scorer then does not
credit them (evidence.CLAIMS_OFF must list exactly those tasks).

    .venv/bin/python scripts/chance_match.py [--seeds 20] [--out docs/chance_match.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from silo.evidence import CHANCE_THRESHOLD, CLAIMS_OFF, parse
from silo.tasks import all_tasks

KINDS = ("raw", "stat", "claim", "claim2")
CLAIM_KINDS = {"claim": "foreign", "claim2": "several"}  # column -> evidence.CLAIMS_OFF kind
NS = (2, 5, 10)


def _texts(t, inst, k: int) -> list[str]:
    s = inst.shards[k]
    return [s.text, json.dumps(t.partial(s.data, k, inst.params))]


def _receiver(t, inst, j: int) -> int:
    """An agent whose answer depends on j, other than j when possible."""
    deps = [i for i in range(inst.n_agents) if j in t.depends_on(inst, i)]
    others = [i for i in deps if i != j]
    return (others or deps or [j])[0]


def _fps(t, inst, j: int, i: int) -> dict:
    one = frozenset({j})
    # claims are credited for several shards (a running total) or the author's own: measured on {j, j+1}
    pair = frozenset({j, (j + 1) % inst.n_agents})
    return {"raw": t.raw_fingerprint(inst, j, i), "stat": t.stat_fingerprint(inst, one, i),
            "claim": _labelled(t.claim_fingerprint(inst, one, i)),
            "claim2": t.claim_fingerprint(inst, pair, i) if len(pair) > 1 else None}


def _labelled(fp):
    return None if fp is None else fp.labelled_only()


def measure(task, seeds: int, ns=NS) -> dict:
    """{kind: {"distribution": rate, "own_shard": rate, "trials": n}} for one task (None: no such kind)."""
    hits = {k: {"distribution": [0, 0], "own_shard": [0, 0]} for k in KINDS}
    for n in ns:
        if n < 2:
            continue
        for seed in range(seeds):
            a, b = task.make_instance(n, seed), task.make_instance(n, 10**6 + seed)
            other = [parse(x) for k in range(n) for x in _texts(task, b, k)]
            for j in range(n):
                own = [parse(x) for k in range(n) if k not in (j, (j + 1) % n) for x in _texts(task, a, k)]
                for kind, fp in _fps(task, a, j, _receiver(task, a, j)).items():
                    if fp is None:
                        continue
                    mine = own
                    if kind == "claim":  # a foreign shard's claim counts only where it differs from the author's
                        mine = [parse(x) for k in range(n) if k != j and task.claim_fingerprint(a, frozenset({k}), k)
                                != task.claim_fingerprint(a, frozenset({j}), j) for x in _texts(task, a, k)]
                    for src, texts in (("distribution", other), ("own_shard", mine)):
                        h = hits[kind][src]
                        h[0] += sum(fp.strict(p) for p in texts)
                        h[1] += len(texts)
    out = {}
    for kind, by in hits.items():
        if by["distribution"][1] == 0:
            out[kind] = None
            continue
        out[kind] = {src: h[0] / h[1] for src, h in by.items()} | {"trials": by["distribution"][1]}
    return out


def worst(rates: dict | None) -> float | None:
    return None if rates is None else max(rates["distribution"], rates["own_shard"])


def table(results: dict[str, dict]) -> str:
    lines = [f"| task | {' | '.join(f'{k} (dist / own)' for k in KINDS)} | over {CHANCE_THRESHOLD:.0%} |",
             "|---|" + "---|" * (len(KINDS) + 1)]
    for tid, r in results.items():
        cells = ["-" if r[k] is None else f"{r[k]['distribution']:.2%} / {r[k]['own_shard']:.2%}" for k in KINDS]
        over = [k for k in KINDS if r[k] is not None and worst(r[k]) > CHANCE_THRESHOLD]
        lines.append(f"| {tid} | {' | '.join(cells)} | {', '.join(over) or '-'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--out", default="docs/chance_match.md")
    args = ap.parse_args()
    results = {t.id: measure(t, args.seeds) for t in all_tasks()}
    claims_over = {tid: sorted(label for kind, label in CLAIM_KINDS.items()
                               if r[kind] and worst(r[kind]) > CHANCE_THRESHOLD) for tid, r in results.items()}
    claims_over = {tid: kinds for tid, kinds in claims_over.items() if kinds}
    configured = {tid: sorted(kinds) for tid, kinds in CLAIMS_OFF.items() if kinds}
    body = (f"# Chance-match rates of evidence fingerprints\n\nGenerated by `scripts/chance_match.py --seeds "
            f"{args.seeds}` (N in {list(NS)}; every shard j of every instance). A rate is the share of pieces of "
            "content that do not carry shard j (a rendered shard or star partial of an independent instance: "
            "*dist*; of another agent of the same instance: *own*) which the scorer's strict rule would accept "
            f"as j's fingerprint. Threshold: {CHANCE_THRESHOLD:.0%}. Claim kinds over it are not credited "
            "(*claim*: a relayed labelled claim of one foreign shard, *foreign*; *claim2*: of several shards, "
            "*several*); "
            f"`silo.evidence.CLAIMS_OFF` = {configured} (measured over: {claims_over}). Raw items and "
            "statistics are credited only from content whose author had reached (raw) or had evidence of "
            "(statistics) the shard, which these rates do not model: they bound the coincidence per message.\n\n"
            + table(results) + "\n")
    Path(args.out).write_text(body)
    Path("data/chance_match.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(body)
    if claims_over != configured:
        raise SystemExit(f"evidence.CLAIMS_OFF {configured} differs from the measured {claims_over}")


if __name__ == "__main__":
    main()
