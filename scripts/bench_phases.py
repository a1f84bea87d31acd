"""Measurement plumbing of scripts/bench_harness.py: code trees, one process per phase, workers.

Every phase (silo run / score / report / view, opening the viewer) runs as its own process under
`/usr/bin/time -v`, so its peak RSS is its own, never a figure inherited from an earlier phase.
The code measured is a tree with a src/ folder: the working tree, or a git ref exported with
`git archive` into a temporary folder (so a fresh clone can pair itself against any release).

Workers run in a fresh process too (`python scripts/bench_phases.py count RUN_DIR`,
`... open VIEWER.html`); they are not timed as phases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent
TIME = "/usr/bin/time"


@dataclass
class Code:
    """A tree of silo's code to measure: `label` names it in tables (a commit or 'working tree')."""
    label: str
    src: Path
    commit: str | None = None


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def export_ref(ref: str, parent: Path) -> Code:
    """Export src/ of a git ref into a temporary folder (nothing in the repository is touched); tasks/ and
    data/ too, which src/silo/suites and src/silo/data link to."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    dest = parent / commit[:7]
    dest.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src", "tasks", "data"], check=True,
                         capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return Code(commit[:7], dest / "src", commit)


def working_tree() -> Code:
    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "src"))
    return Code(f"{head[:7]}{' + uncommitted edits' if dirty else ''}", ROOT / "src", head)


def env_for(code: Code) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{code.src}{os.pathsep}{SCRIPTS}", HF_HUB_OFFLINE="1",
               LITELLM_LOCAL_MODEL_COST_MAP="True", NO_COLOR="1")
    env.pop("SILO_PLUGINS", None)
    return env


def _parse_time(text: str) -> dict:
    def grab(label: str) -> str:
        m = re.search(rf"^\s*{re.escape(label)}.*?: (.+)$", text, re.M)
        return m.group(1).strip() if m else "0"
    wall = 0.0
    for part in grab("Elapsed (wall clock) time").split(":"):
        wall = wall * 60 + float(part)
    return {"wall_s": wall, "cpu_s": float(grab("User time")) + float(grab("System time")),
            "rss_mb": int(grab("Maximum resident set size")) / 1024}


MAX_RSS_MB = 4000  # a phase past this is stopped (recorded as "> cap"): the old code's N = 1,000 gossip took 21 GB


def measure(argv: list[str], env: dict, cwd: Path, log: Path, max_rss_mb: float = MAX_RSS_MB) -> dict:
    """Run one phase in its own process; wall, user+sys CPU, its own peak RSS, load average at start.

    A phase whose RSS passes max_rss_mb is killed (a shared machine must not meet the OOM killer);
    its record says so (`killed`, rss_mb = the cap as a lower bound)."""
    import psutil
    if not os.path.exists(TIME):
        raise SystemExit(f"error: {TIME} not found (Debian: apt-get install time)")
    load = os.getloadavg()[0]
    killed = False
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf, open(log, "ab") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen([TIME, "-v", "-o", tf.name, *argv], env=env, cwd=cwd, stdout=out, stderr=out)
        while p.poll() is None:
            try:
                kids = psutil.Process(p.pid).children(recursive=True)
                rss = sum(k.memory_info().rss for k in kids) / 2**20
            except psutil.Error:
                rss = 0
            if rss > max_rss_mb:
                killed = True
                for k in kids:
                    k.kill()
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        rec = _parse_time(Path(tf.name).read_text())
    rec.update(rc=p.returncode, load=load, wall_s=rec["wall_s"] or wall, killed=killed)
    if killed:
        rec.update(rss_mb=max(rec["rss_mb"], max_rss_mb), rc=-9)
    return rec


PROBE = """
import time
t = time.process_time()
d, s = {}, set()
for i in range(600_000):
    k = str(i % 5003)
    d[k] = d.get(k, 0) + 1
    s.add(frozenset((i % 7, i % 11)))
print(time.process_time() - t)
"""


def speed_probe() -> float:
    """CPU seconds of a fixed pure-Python workload (dicts, strings, small sets: what scoring does) in a fresh
    process: the machine's speed at that minute, so that absolute times taken on other minutes or sessions can
    be read against it (this VM's speed moves 1.5x within minutes; a figure is only as slow as its probe)."""
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return float(p.stdout.strip())


def silo(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "silo.cli", *args]


def worker(code: Code, *args: str) -> dict:
    """Run a worker of this file under `code` in a fresh process; its JSON line."""
    p = subprocess.run([sys.executable, __file__, *args], env=env_for(code), cwd=code.src.parent,
                       capture_output=True, text=True)
    if p.returncode:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# ---- workers (run as `python bench_phases.py KIND ...`) ----

def count(run_dir: str) -> dict:
    """Episodes, events and deliveries (messages handed to a recipient) of a run, with the code's reader."""
    import silo
    try:
        from silo.rundir import RunDir
    except ImportError:
        from silo.runner import RunDir
    try:
        from silo.records import deliveries
    except ImportError:  # before batched deliver events: one event per message per recipient
        def deliveries(e):
            return [(e.msg_id, e.sender)]
    eps = events = deliv = sends = 0
    for ep in RunDir(run_dir).episodes():
        eps += 1
        events += len(ep.events)
        for e in ep.events:
            if e.kind == "deliver":
                deliv += len(deliveries(e))
            elif e.kind == "send":
                sends += 1
    return {"episodes": eps, "events": events, "deliveries": deliv, "sends": sends, "silo": silo.__file__}


def open_viewer(html: str) -> dict:
    """Open a viewer page in headless Chromium, click the first episode; rows, agents shown, page errors."""
    from playwright.sync_api import sync_playwright
    chromium = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    errors: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=args)
        pg = b.new_page(viewport={"width": 1400, "height": 900})
        pg.on("pageerror", lambda e: errors.append(str(e)[:200]))
        t0 = time.perf_counter()
        pg.goto(Path(html).resolve().as_uri(), timeout=300_000)
        rows = pg.locator("tr.ep-row").count()
        t_load = time.perf_counter() - t0
        pg.locator("tr.ep-row").first.click()
        pg.wait_for_selector("#detail h2", timeout=300_000)
        agents = pg.locator("#agents tr.agent-row").count()
        sends = pg.locator("#timeline .ev-send").count()
        t_click = time.perf_counter() - t0 - t_load
        b.close()
    return {"rows": rows, "agents": agents, "sends_shown": sends, "errors": errors, "load_s": t_load,
            "click_s": t_click, "html_mb": os.path.getsize(html) / 1e6}


if __name__ == "__main__":
    kind, arg = sys.argv[1], sys.argv[2]
    out = count(arg) if kind == "count" else open_viewer(arg) if kind == "open" else None
    if out is None:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(out, default=str))


__all__ = ["Code", "asdict", "dir_mb", "env_for", "export_ref", "measure", "silo", "worker", "working_tree"]
