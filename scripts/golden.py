"""Regenerate data/golden_instances.json: content hashes of instances at fixed seeds, for every version.

Keys are task keys: 'I-03' for the default version, 'I-03@1' for a pinned older one (those must never
change: they reproduce published readings). Run after bumping a task's version:
    .venv/bin/python scripts/golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from silo.tasks import all_tasks, get_task, task_versions
from silo.tasks.base import instance_hash

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_instances.json"
GOLDEN_N = (1, 2, 5, 10)
GOLDEN_SEEDS = (0, 7)


def golden_entry(task) -> dict:
    """Version and hashes of one task's instances at the golden N and seeds."""
    hashes = {f"n{n}-s{s}": instance_hash(task.make_instance(n, s)) for n in GOLDEN_N for s in GOLDEN_SEEDS}
    return {"version": task.version, "hashes": hashes}


def every_version() -> list:
    """Every registered version of every task (defaults and pinned older ones)."""
    return [get_task(f"{t.id}@{v}") for t in all_tasks() for v in task_versions(t.id)]


def main() -> None:
    old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    old_by_version = {(k.split("@")[0], e["version"]): e["hashes"] for k, e in old.items()}
    new = {t.key: golden_entry(t) for t in every_version()}
    for key, entry in new.items():
        was = old_by_version.get((key.split("@")[0], entry["version"]))
        if was is not None and was != entry["hashes"]:
            raise SystemExit(f"{key}: generator output changed but version is still {entry['version']}: bump it")
    GOLDEN.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(new)} tasks to {GOLDEN}")


if __name__ == "__main__":
    main()
