"""Regenerate data/golden_instances.json: content hashes of instances at fixed seeds.

Run after bumping a task's version:  .venv/bin/python scripts/golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from silo.tasks import all_tasks
from silo.tasks.base import instance_hash

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_instances.json"
GOLDEN_N = (1, 2, 5, 10)
GOLDEN_SEEDS = (0, 7)


def golden_entry(task) -> dict:
    """Version and hashes of one task's instances at the golden N and seeds."""
    hashes = {f"n{n}-s{s}": instance_hash(task.make_instance(n, s)) for n in GOLDEN_N for s in GOLDEN_SEEDS}
    return {"version": task.version, "hashes": hashes}


def main() -> None:
    old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    new = {t.id: golden_entry(t) for t in all_tasks()}
    for tid, entry in new.items():
        if tid in old and old[tid]["version"] == entry["version"] and old[tid]["hashes"] != entry["hashes"]:
            raise SystemExit(f"{tid}: generator output changed but version is still {entry['version']}: bump it")
    GOLDEN.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(new)} tasks to {GOLDEN}")


if __name__ == "__main__":
    main()
