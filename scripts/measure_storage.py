"""Episode storage figures for a run directory: bytes on disk, write and read time, old JSON vs .jsonl.gz.

    .venv/bin/python scripts/measure_storage.py RUN_DIR [--levels 1,3,6,9] [--scratch /tmp/x]

Every episode of RUN_DIR (either format) is written into a scratch directory once as the old
<id>.json document and once as <id>.jsonl.gz per gzip level, then read back through silo.episode_io;
times are summed over episodes (serialise + compress + write, without fsync; read + decompress +
validate), sizes are apparent bytes and bytes allocated on disk (`du`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from silo import episode_io
from silo.rundir import RunDir


def _du(d: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in d.iterdir())


def _apparent(d: Path) -> int:
    return sum(f.stat().st_size for f in d.iterdir())


def _read_all(d: Path) -> tuple[float, int]:
    t, n = time.perf_counter(), 0
    for f in episode_io.files(d):
        n += len(episode_io.read(f).events)
    return time.perf_counter() - t, n


def measure(run: Path, levels: list[int], scratch: Path) -> list[dict]:
    rows = []
    kinds = [("json", None)] + [("jsonl.gz", lv) for lv in levels]
    for kind, level in kinds:
        d = scratch / f"{kind}-{level}"
        d.mkdir(parents=True)
        write_s = 0.0
        if level is not None:
            episode_io.LEVEL = level
        for ep in RunDir(run).episodes():
            t = time.perf_counter()
            if level is None:
                (d / f"{ep.id}.json").write_text(ep.model_dump_json(exclude_none=True))
            else:
                (d / f"{ep.id}{episode_io.SUFFIX}").write_bytes(episode_io.encode(ep)[0])
            write_s += time.perf_counter() - t
        read_s, events = _read_all(d)
        rows.append({"format": kind, "level": level, "files": len(os.listdir(d)), "events": events,
                     "MB": _apparent(d) / 1e6, "du_MB": _du(d) / 1e6, "write_s": write_s, "read_s": read_s})
        shutil.rmtree(d)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--levels", default="1,3,6,9")
    ap.add_argument("--scratch", default=None)
    a = ap.parse_args()
    scratch = Path(a.scratch or tempfile.mkdtemp(prefix="silo-storage-"))
    rows = measure(Path(a.run_dir), [int(x) for x in a.levels.split(",")], scratch)
    print(f"load average {os.getloadavg()[0]:.1f}; {rows[0]['files']} episodes, {rows[0]['events']} events")
    print("| format | gzip level | MB | on disk (du) MB | write s | read s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['level'] or '-'} | {r['MB']:.1f} | {r['du_MB']:.1f} | {r['write_s']:.1f} | "
              f"{r['read_s']:.1f} |")


if __name__ == "__main__":
    main()
