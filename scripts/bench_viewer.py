"""The viewer of a big episode: `silo view`'s cost, and how fast headless Chromium shows the episode.

    .venv/bin/python scripts/bench_viewer.py [--n 1000] [--task I-01] [--protocol p2p] [--team oracle]
        [--run RUN_DIR] [--src SRC ...] [--timeout 300] [--json FILE]

Makes the run (`silo run --task T --n N --protocol P --team TEAM`, with this tree) unless --run names
one, then for each code tree (`--src`, default this tree's src/; give the previous release's exported
src/ too to pair them; each in its own process, in the order given):
- `silo view RUN` under /usr/bin/time: wall, user + system CPU, peak RSS, size of the page;
- the page in headless Chromium (Debian's /usr/bin/chromium through playwright): time to load the page
  (episode list shown), time from the click on the first episode to its detail, DOM nodes and JS heap
  (Chrome DevTools Performance metrics) once it is shown, then the time to expand one agent: its
  conversation when the team logs model calls, else the next page of the agents table.
A page whose detail does not appear within --timeout seconds is recorded as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench_phases import ROOT, Code, env_for, measure, silo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def open_page(html: Path, timeout_s: float) -> dict:
    """Open the page, click the first episode, expand one agent; times, DOM nodes and JS heap."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out: dict = {"errors": []}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else None, args=ARGS)
        pg = b.new_page(viewport={"width": 1400, "height": 900})
        pg.set_default_timeout(timeout_s * 1000)
        pg.on("pageerror", lambda e: out["errors"].append(str(e)[:200]))
        cdp = pg.context.new_cdp_session(pg)
        cdp.send("Performance.enable")
        t0 = time.perf_counter()
        pg.goto(html.resolve().as_uri(), timeout=timeout_s * 1000)
        pg.wait_for_selector("tr.ep-row")
        out["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pg.locator("tr.ep-row").first.click()
        try:
            pg.wait_for_selector("#detail h2")
            pg.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # laid out and painted
            out["detail_s"] = time.perf_counter() - t0
        except PlaywrightTimeout:
            out["detail_s"], out["timed_out"] = None, True
            b.close()
            return out
        out.update(_metrics(cdp), agents_shown=pg.locator("#agents tr.agent-row").count())
        out.update(_expand(pg))
        b.close()
    return out


def _metrics(cdp) -> dict:
    m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
    return {"dom_nodes": int(m.get("Nodes", 0)), "js_heap_mb": m.get("JSHeapUsedSize", 0) / 2**20}


def _expand(pg) -> dict:
    """Expand one agent: the first conversation if any, else the agents table's next page."""
    t0 = time.perf_counter()
    conv = pg.locator("#conv details.conv").first
    if conv.count():
        conv.locator("summary").click()
        conv.locator(".call").first.wait_for()
        what = "conversation of " + (conv.get_attribute("data-agent") or "?")
    else:
        more = pg.locator("#detail button.more", has_text="agents")
        if not more.count():
            return {"expand": "nothing to expand (every agent shown)"}
        before = pg.locator("#agents tr.agent-row").count()
        more.click()
        pg.wait_for_function(f"document.querySelectorAll('#agents tr.agent-row').length > {before}")
        what = "next page of agents"
    return {"expand": what, "expand_s": time.perf_counter() - t0}


def side(code: Code, run: Path, tmp: Path, timeout_s: float) -> dict:
    html = tmp / f"viewer-{abs(hash(code.label))}.html"
    rec = {"code": code.label, "src": str(code.src)}
    rec["view"] = measure(silo(["view", str(run), "-o", str(html)]), env_for(code), ROOT, tmp / "log")
    if rec["view"]["rc"]:
        return rec
    rec["html_mb"] = html.stat().st_size / 1e6
    rec["page"] = open_page(html, timeout_s)
    html.unlink()
    return rec


def markdown(meta: dict) -> str:
    c = meta["case"]
    lines = [f"**Viewer of {c}** (`python {' '.join(meta['argv'])}`; {meta['machine']}; load average "
             f"{meta['load_start'][0]:.1f} at the start, {meta['load_end'][0]:.1f} at the end)", "",
             "| code | `silo view` wall / CPU / peak RSS | page | load list | click to detail | DOM nodes | JS heap | "
             "expand one agent |", "|---|---|---|---|---|---|---|---|"]
    for r in meta["sides"]:
        v, p = r["view"], r.get("page", {})
        det = (f"{p['detail_s']:.2f} s" if p.get("detail_s") is not None
               else f"**not within {meta['timeout_s']:.0f} s**" if p.get("timed_out") else "-")
        exp = f"{p['expand_s']:.2f} s ({p['expand']})" if "expand_s" in p else p.get("expand", "-")
        heap = f"{p['js_heap_mb']:.0f} MB" if "js_heap_mb" in p else "-"
        lines.append(f"| {r['code']} | {v['wall_s']:.1f} s / {v['cpu_s']:.1f} s / {v['rss_mb']:,.0f} MB | "
                     f"{r.get('html_mb', 0):.1f} MB | {p.get('load_s', 0):.2f} s | {det} | {p.get('dom_nodes', '-')} | "
                     f"{heap} | {exp} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--task", default="I-01")
    ap.add_argument("--protocol", default="p2p")
    ap.add_argument("--team", default="oracle")
    ap.add_argument("--run", help="view this run directory instead of making one")
    ap.add_argument("--src", nargs="+", default=[str(ROOT / "src")], help="code trees (src/ folders) to measure")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the episode's detail")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    codes = [Code(str(Path(s).resolve().parent), Path(s).resolve()) for s in args.src]
    with tempfile.TemporaryDirectory(prefix="silo-bench-viewer-") as t:
        tmp = Path(t)
        run = Path(args.run) if args.run else tmp / "run"
        case = f"{args.task} {args.team} over {args.protocol}, N = {args.n:,}"
        if not args.run:
            made = measure(silo(["run", "--task", args.task, "--n", str(args.n), "--protocol", args.protocol,
                                 "--team", args.team, "--no-progress", "-o", str(run)]),
                           env_for(Code("this", ROOT / "src")), ROOT, tmp / "log")
            if made["rc"]:
                raise SystemExit(f"silo run failed (exit {made['rc']}): see {tmp / 'log'}")
        else:
            case = f"{run.name}"
        meta = {"case": case, "argv": ["scripts/bench_viewer.py", *sys.argv[1:]], "timeout_s": args.timeout,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                "load_start": os.getloadavg(), "sides": []}
        for code in codes:
            meta["sides"].append(side(code, run, tmp, args.timeout))
            print(json.dumps(meta["sides"][-1], default=str), flush=True)
        meta["load_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(meta, indent=1, default=str))
    print(markdown(meta))


if __name__ == "__main__":
    main()
