"""Rewrite a run directory's old <id>.json episode files as <id>.jsonl.gz (docs/storage.md), in place.

    .venv/bin/python scripts/convert_run.py RUN_DIR

Each file is read, written in the new format (temporary file + rename) and only then is the old file
removed, so a killed conversion leaves every episode readable; re-running it finishes the job. Takes the
run's lock, so it never races a `silo run` / `silo resume` of the same directory.
"""

from __future__ import annotations

import argparse
import sys
import time

from silo import episode_io
from silo.rundir import RunDir, RunDirError


def convert(rd: RunDir) -> tuple[int, int, int]:
    """(files converted, bytes before, bytes after); unreadable files are left as they are (and named)."""
    n, before, after = 0, 0, 0
    for f in rd.episode_files():
        if f.name.endswith(episode_io.SUFFIX):
            continue
        try:
            ep = episode_io.read(f)
        except (OSError, ValueError) as e:
            print(f"skipped unreadable {f.name}: {str(e).splitlines()[0][:160]}", file=sys.stderr)
            continue
        size = f.stat().st_size
        episode_io.write(rd.episodes_dir, ep)  # removes f after the new file is in place
        n, before, after = n + 1, before + size, after + episode_io.path_for(rd.episodes_dir, ep.id).stat().st_size
    return n, before, after


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    a = ap.parse_args()
    rd = RunDir(a.run_dir)
    try:
        if rd.saved_config() is None:
            raise RunDirError(f"not a run directory: {a.run_dir}")
        rd.lock()
        t = time.perf_counter()
        n, before, after = convert(rd)
    except RunDirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t
    print(f"converted {n} episode files in {took:.1f} s: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
