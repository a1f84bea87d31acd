"""`silo score` and `silo report` of one run, an old tree of silo's code against a new one, paired.

    python scripts/bench_report.py RUN --old OLD_SRC [--new NEW_SRC] [--rounds 3] [--score-rounds 3]
        [--work DIR] [--json OUT.json]

Each side gets its own copy of RUN, scored by its own code (`silo score COPY`: code that writes the report's
facts sidecar while scoring leaves it there, as `silo run` would). Then, `--score-rounds` times, `silo score`
of that copy again, and `--rounds` times the two reports a user gets:

- first: `silo report COPY -o OUT` with the copy as scoring left it (its sidecar restored before each round,
  or removed for code whose scoring writes none): the first report after `silo run` / `silo score`;
- later: the same report again (the sidecar of the first one is there): any later report of the run.

Each round starts with bench_phases.speed_probe (a fixed pure-Python workload's CPU seconds: the machine's speed at
that minute). Every command is its own process under /usr/bin/time (bench_phases.measure: wall, user + sys CPU, which
counts the report's plot worker, and peak RSS), the rounds alternate which side goes first, and the load
average at each start is kept. The reports of the two sides are compared file by file (report.md,
report.html, episodes.csv, agents.csv, every PNG, the terminal summary): `same` lists what is identical, and
`pixels` what is not byte for byte but shows the same image: a PNG whose decoded pixels are the same, or a
report.html that is the same once each embedded PNG is replaced by its decoded pixels.
"""

from __future__ import annotations

import argparse
import base64
import filecmp
import io
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_phases import Code, env_for, measure, silo, speed_probe  # noqa: E402

SIDECAR = ".report-facts.json.gz"
SAVED = ".bench-sidecar-after-score"
PHASES = ("score", "first", "later")


def _restore(run: Path) -> None:
    """The run's sidecar as its own scoring left it (none if that code's scoring writes none)."""
    (run / SIDECAR).unlink(missing_ok=True)
    if (run / SAVED).exists():
        shutil.copy2(run / SAVED, run / SIDECAR)


def _prepare(code: Code, src: Path, dest: Path, log: Path) -> dict:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(SIDECAR, ".report-facts*", "report"))
    rec = measure(silo(["score", str(dest), "--no-progress"]), env_for(code), code.src.parent, log)
    if rec["rc"]:
        raise SystemExit(f"silo score of {dest} failed with {code.label} (see {log})")
    if (dest / SIDECAR).exists():
        shutil.copy2(dest / SIDECAR, dest / SAVED)
    return rec


def _report(code: Code, run: Path, out: Path, log: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    log.unlink(missing_ok=True)
    rec = measure(silo(["report", str(run), "-o", str(out)]), env_for(code), code.src.parent, log)
    if rec["rc"]:
        raise SystemExit(f"silo report of {run} failed with {code.label} (see {log})")
    return rec


def _terminal(log: Path) -> list[str]:
    """The report's terminal output without the line naming where it was written."""
    return [x for x in log.read_text().splitlines() if not x.startswith(("report: ", "\treport: "))]


def _pixels(png: bytes) -> tuple:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.mode, im.size, im.tobytes()


EMBEDDED = re.compile(rb"data:image/png;base64,([A-Za-z0-9+/=]+)")


def same_pixels(a: Path, b: Path) -> bool:
    """Two PNGs of the same pixels, or two HTML pages the same but for the bytes of their embedded PNGs."""
    x, y = a.read_bytes(), b.read_bytes()
    if a.suffix == ".png":
        return _pixels(x) == _pixels(y)
    xs, ys = EMBEDDED.split(x), EMBEDDED.split(y)  # text, image, text, image, ..., text
    if len(xs) != len(ys) or xs[::2] != ys[::2]:
        return False
    return all(_pixels(base64.b64decode(u)) == _pixels(base64.b64decode(v)) for u, v in zip(xs[1::2], ys[1::2],
                                                                                           strict=True))


def same_report(a: Path, b: Path, log_a: Path, log_b: Path) -> dict:
    """File-by-file comparison of two report directories and their terminal output: True (the same bytes),
    "pixels" (same_pixels) or False."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    out = {}
    for n in names:
        both = (a / n).is_file() and (b / n).is_file()
        out[n] = both and (filecmp.cmp(a / n, b / n, shallow=False) or
                           (n.endswith((".png", ".html")) and same_pixels(a / n, b / n) and "pixels"))
    out["terminal"] = _terminal(log_a) == _terminal(log_b)
    return out


def run(args) -> dict:
    sides = {"old": Code("old", Path(args.old).resolve()), "new": Code("new", Path(args.new).resolve())}
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    copies = {}
    for name, code in sides.items():
        copies[name] = work / name / Path(args.run).name  # the same folder name: the report's run column
        shutil.rmtree(copies[name], ignore_errors=True)
        rec = _prepare(code, Path(args.run), copies[name], work / f"{name}-prepare.log")
        records.append({"side": name, "phase": "prepare-score", "round": 0, **rec})
    order = list(sides)
    for k in range(max(args.rounds, args.score_rounds)):
        records.append({"side": "machine", "phase": "probe", "round": k + 1, "wall_s": 0.0, "cpu_s": speed_probe(),
                        "rss_mb": 0.0, "load": os.getloadavg()[0], "rc": 0})
        for name in order if k % 2 == 0 else order[::-1]:
            code, copy = sides[name], copies[name]
            if k < args.score_rounds:
                rec = measure(silo(["score", str(copy), "--no-progress"]), env_for(code), code.src.parent,
                              work / f"{name}-score.log")
                records.append({"side": name, "phase": "score", "round": k + 1, **rec})
            if k < args.rounds:
                _restore(copy)  # the first report after scoring, every round
                for phase in ("first", "later"):
                    rec = _report(code, copy, work / f"out-{name}-{phase}", work / f"{name}-{phase}.log")
                    records.append({"side": name, "phase": phase, "round": k + 1, **rec})
    same = {phase: same_report(work / f"out-old-{phase}", work / f"out-new-{phase}", work / f"old-{phase}.log",
                               work / f"new-{phase}.log") for phase in ("first", "later")}
    return {"run": str(args.run), "old": str(sides["old"].src), "new": str(sides["new"].src), "work": str(work),
            "machine": f"{os.uname().machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
            "records": records, "same": same}


def table(res: dict) -> str:
    """Markdown: every measurement, then the medians and new/old ratios per phase."""
    lines = ["| phase | side | round | wall | CPU (user + sys) | peak RSS | load at start |",
             "|---|---|---|---|---|---|---|"]
    for r in res["records"]:
        lines.append(f"| {r['phase']} | {r['side']} | {r['round']} | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s | "
                     f"{r['rss_mb']:.0f} MB | {r['load']:.2f} |")
    lines += ["", "| phase | old: wall / CPU / RSS (median) | new: wall / CPU / RSS (median) | new/old |",
              "|---|---|---|---|"]
    for phase in PHASES:
        med = {}
        for side in ("old", "new"):
            rs = [r for r in res["records"] if r["side"] == side and r["phase"] == phase]
            if not rs:
                break
            med[side] = [statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "rss_mb")]
        if len(med) == 2:
            o, n = med["old"], med["new"]
            lines.append(f"| {phase} | {o[0]:.2f} s / {o[1]:.2f} s / {o[2]:.0f} MB | {n[0]:.2f} s / {n[1]:.2f} s / "
                         f"{n[2]:.0f} MB | {n[0] / o[0]:.2f}x, {n[1] / o[1]:.2f}x, {n[2] / o[2]:.2f}x |")
    probes = [r["cpu_s"] for r in res["records"] if r["phase"] == "probe"]
    if probes:
        lines.append(f"\nspeed probe (bench_phases.speed_probe, CPU s, lower is faster) before each round: "
                     f"{min(probes):.2f}-{max(probes):.2f} s, median {statistics.median(probes):.2f} s")
    for phase, cmp in res["same"].items():
        diff = [k for k, v in cmp.items() if not v]
        pix = [k for k, v in cmp.items() if v == "pixels"]
        lines.append(f"\n{phase} report, old vs new: {len(cmp) - len(diff) - len(pix)} of {len(cmp)} outputs "
                     f"identical" + (f"; same pixels, other bytes: {', '.join(pix)}" if pix else "")
                     + (f"; differ: {', '.join(diff)}" if diff else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory (copied; never written)")
    p.add_argument("--old", required=True, help="src/ folder of the old code (e.g. from git archive)")
    p.add_argument("--new", default=str(Path(__file__).resolve().parents[1] / "src"), help="src/ of the new code")
    p.add_argument("--rounds", type=int, default=3, help="first + later reports per side")
    p.add_argument("--score-rounds", type=int, default=3, help="`silo score` runs per side")
    p.add_argument("--work", default=None, help="folder for the copies and reports (default: a new temporary one)")
    p.add_argument("--json", default=None, help="write every measurement here")
    args = p.parse_args(argv)
    res = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(table(res))


if __name__ == "__main__":
    main()
