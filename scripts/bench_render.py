"""Markdown of scripts/bench_harness.py's results: targets, paired phases, the cost-vs-N curve, the viewer."""

from __future__ import annotations

SIDES = ("baseline", "current")


def _cmd(argv: list[str]) -> str:
    return "silo " + " ".join(argv) + " --no-progress -o RUN"


def _m(m: dict | None) -> str:
    if m and m.get("killed"):
        return f"**stopped at {m['rss_mb']:,.0f} MB** after {m['wall_s']:.0f} s / {m['cpu_s']:.0f} s"
    return "-" if not m else f"{m['wall_s']:.1f} s / {m['cpu_s']:.1f} s / {m['rss_mb']:,.0f} MB" + (
        f" (exit {m['rc']})" if m["rc"] else "")


def _x(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}x" if a and b is not None else "-"


def _peak(side: dict | None, phases=("run", "score", "view")) -> float | None:
    """Peak RSS over the phases; negative = killed at the cap (a lower bound)."""
    if not side:
        return None
    ms = [side["phases"][p] for p in phases if p in side["phases"]]
    peak = max(m["rss_mb"] for m in ms)
    return -peak if any(m.get("killed") for m in ms) else peak


def _phase(side: dict | None, p: str, key: str) -> float | None:
    return side["phases"][p][key] if side and p in side["phases"] else None


def _find(results: list[dict], case: str) -> dict | None:
    return next((r for r in results if r["case"] == case), None)


def targets(results: list[dict], load: float) -> list[str]:
    """Issue 16's targets that this harness measures: before, after, met?"""
    rows = []

    def row(what: str, case: str, get, limit: float, unit: str) -> None:
        r = _find(results, case)
        if not r:
            return
        b, a = get(r.get("baseline")), get(r.get("current"))
        def fmt(v):
            return "-" if v is None else f"> {-v:,.0f} {unit} (stopped)" if v < 0 else f"{v:,.1f} {unit}"
        met = "-" if a is None else ("met" if 0 <= a <= limit else "**not met**")
        rows.append(f"| {what} | {fmt(b)} | {fmt(a)} | {met} |")

    row("1. stress N = 100 x 100: peak RSS <= 300 MB (run, score)", "stress", lambda s: _peak(s), 300, "MB")
    row("1. stress: episode files <= 25 MB", "stress", lambda s: s and s.get("episodes_mb"), 25, "MB")
    for task, team, proto, lim in (("I-01", "gossip", "broadcast", 600), ("I-01", "oracle", "p2p", 300),
                                   ("III-21", "oracle", "p2p", 300)):
        row(f"2. N = 1,000 {team} over {proto} ({task}): peak RSS <= {lim} MB (run, score, view)",
            f"{task}-{team}-{proto}-n1000", lambda s: _peak(s), lim, "MB")
    row("3. grid (oracle): `silo score` <= 5 s (CPU)", "grid", lambda s: _phase(s, "score", "cpu_s"), 5, "s")
    row("3. grid (oracle): `silo report` <= 5 s (CPU)", "grid", lambda s: _phase(s, "report", "cpu_s"), 5, "s")
    row("3. grid (oracle): `silo report` <= 400 MB", "grid", lambda s: _phase(s, "report", "rss_mb"), 400, "MB")
    row("3. grid (oracle): run directory on disk <= 50 MB", "grid", lambda s: s and s.get("disk_mb"), 50, "MB")
    if not rows:
        return []
    return [f"Times are judged on user + system CPU seconds: with the load average at {load:.0f} on 2 cores, wall "
            "time here is up to several times what one process takes on a quiet machine (each phase is one process "
            "on one core, so on a quiet machine wall is about its CPU time).", "",
            "| target | before | after | met? |", "|---|---|---|---|", *rows]


def paired(r: dict) -> list[str]:
    b, c = r.get("baseline"), r.get("current")
    phases = list(dict.fromkeys([*(b or {}).get("phases", {}), *(c or {}).get("phases", {})]))
    later = ", then " + ", ".join(f"`silo {p} RUN`" for p in phases if p != "run")
    out = [f"**{r['title']}**: `{_cmd(r['run'])}`{later if len(phases) > 1 else ''}", "",
           "| phase | before: wall / CPU / peak RSS | after: wall / CPU / peak RSS | after/before: wall, CPU, RSS | "
           "load at start (before, after) |", "|---|---|---|---|---|"]
    for p in phases:
        mb, mc = b and b["phases"].get(p), c and c["phases"].get(p)
        ratio = ", ".join(_x(mb and mb[k], mc and mc[k]) for k in ("wall_s", "cpu_s", "rss_mb"))
        load = ", ".join(f"{m['load']:.1f}" if m else "-" for m in (mb, mc))
        out.append(f"| {p} | {_m(mb)} | {_m(mc)} | {ratio} | {load} |")
    disk = [f"{s['disk_mb']:,.1f} MB" if s and "disk_mb" in s else "-" for s in (b, c)]
    out.append(f"| run directory on disk | {disk[0]} | {disk[1]} | "
               f"{_x(b and b.get('disk_mb'), c and c.get('disk_mb'))} | |")
    ev = [f"{s['events']:,} events, {s['deliveries']:,} deliveries" if s and "events" in s else "-" for s in (b, c)]
    out.append(f"| episodes: events (message deliveries) | {ev[0]} | {ev[1]} | "
               f"{_x(b and b.get('events'), c and c.get('events'))} events | |")
    return out + [""]


def curve(results: list[dict]) -> list[str]:
    rows = [r for r in results if "curve" in r]
    if not rows:
        return []
    out = ["| task, team, protocol | N | code | events | deliveries | episode | run (wall / CPU) | "
           "score (wall / CPU) | score CPU per 1k deliveries | view (wall / CPU) | peak RSS run / score / view | "
           "on disk |", "|---" * 12 + "|"]
    for r in rows:
        task, team, proto, n = r["curve"]
        for side in SIDES:
            s = r.get(side)
            if not s:
                continue
            if "score" not in s["phases"]:
                out.append(f"| {task} {team} {proto} | {n:,} | {'before' if side == 'baseline' else 'after'} | | | | "
                           f"{_m(s['phases']['run'])} | | | | | |")
                continue
            ru, sc, vw = s["phases"]["run"], s["phases"]["score"], s["phases"].get("view")
            per = 1000 * sc["cpu_s"] / s["deliveries"] if s.get("deliveries") else 0
            view = f"{vw['wall_s']:.1f} / {vw['cpu_s']:.1f} s" if vw else ""
            rss = f"{ru['rss_mb']:,.0f} / {sc['rss_mb']:,.0f}" + (f" / {vw['rss_mb']:,.0f}" if vw else "")
            out.append(f"| {task} {team} {proto} | {n:,} | {'before' if side == 'baseline' else 'after'} | "
                       f"{s.get('events', 0):,} | {s.get('deliveries', 0):,} | {s.get('status', '')} | "
                       f"{ru['wall_s']:.1f} / {ru['cpu_s']:.1f} s | "
                       f"{sc['wall_s']:.1f} / {sc['cpu_s']:.1f} s | {per:.3f} s | {view} | {rss} MB | "
                       f"{s['disk_mb']:,.2f} MB |")
    return out + [""]


def viewer(results: list[dict]) -> list[str]:
    rows = [r for r in results if any(s and "open" in s for s in (r.get("baseline"), r.get("current")))]
    if not rows:
        return []
    out = ["| case | code | `silo view` wall / peak RSS | viewer.html | episodes listed | agents shown | "
           "sends shown | page errors | load, click in Chromium |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for side in SIDES:
            s = r.get(side)
            if not s or "open" not in s:
                continue
            v, o = s["phases"]["view"], s["open"]
            if "error" in o:
                out.append(f"| {r['title']} | {side} | {v['wall_s']:.1f} s / {v['rss_mb']:,.0f} MB | | could not open: "
                           f"{o['error']} | | | | |")
                continue
            out.append(f"| {r['title']} | {'before' if side == 'baseline' else 'after'} | {v['wall_s']:.1f} s / "
                       f"{v['rss_mb']:,.0f} MB | {o['html_mb']:.1f} MB | {o['rows']} | {o['agents']:,} | "
                       f"{o['sends_shown']:,} | {len(o['errors'])} | {o['load_s']:.1f} s, {o['click_s']:.1f} s |")
    return out + [""]


def _invocation(meta: dict) -> str:
    la, lb = meta["load_start"], meta.get("load_end", meta["load_start"])
    return (f"`{' '.join(meta['argv'])}`: before = {meta['baseline'] or 'not run'}, after = {meta['current']}; "
            f"load average (1, 5, 15 min) {la[0]:.1f}, {la[1]:.1f}, {la[2]:.1f} at the start, "
            f"{lb[0]:.1f}, {lb[1]:.1f}, {lb[2]:.1f} at the end")


def render(metas: list[dict]) -> str:
    """One section from one or more invocations (each pairs its own before and after)."""
    res = [r for m in metas for r in m["results"]]
    load = max(max(m["load_start"][0], m.get("load_end", m["load_start"])[0]) for m in metas)
    head = [
        "<!-- HARNESS:BEGIN -->", "## Harness (scripted teams, no model)", "",
        f"Machine: {metas[0]['machine']}, shared with other work. Commands:", "",
        *[f"- {_invocation(m)}" for m in metas], "",
        "**Before** = the previous release's code, **after** = this code, run alternately in the same invocation "
        "(case by case, which side goes first alternates). Every phase is its own process under "
        "`/usr/bin/time -v`: its wall time, user + system CPU and peak RSS are its own (`silo run` includes "
        "the run's scoring and summary table, as a user sees it). The machine is shared and noisy: read the "
        "after/before ratios (CPU ratios are the steadiest), not absolute seconds.", ""]
    body = []
    t = targets([r for m in metas if not m.get("quick") for r in m["results"]], load)
    if t:
        body += ["Targets of issue 16 measured here:", "", *t, ""]
    for r in res:
        if "curve" not in r:
            body += paired(r)
    c = curve(res)
    if c:
        body += ["**Cost vs N** (`silo run --task T --n N --protocol P --team TEAM`, then `silo score`, "
                 "`silo view`): 'deliveries' counts messages handed to a recipient (N - 1 per broadcast), the unit "
                 "the engine and the scorer work in; 'score CPU per 1k deliveries' stays flat when the cost is "
                 "linear; 'episode' is the scored status and rounds (max_rounds: stopped at R_max, its work cut "
                 "short).", "", *c]
    v = viewer(res)
    if v:
        body += ["**N = 1,000 in the viewer**: `silo view RUN -o RUN/viewer.html`, then the page opened in "
                 "headless Chromium (playwright), its first episode clicked (scripts/bench_phases.py open).", "", *v]
    return "\n".join(head + body + ["<!-- HARNESS:END -->"])
