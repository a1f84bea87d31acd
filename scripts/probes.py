"""Summarise partner probe runs (docs/probes.md): python scripts/probes.py MIXED USUAL [LIAR] [--json OUT]."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from silo.probes import liar, markdown, paired


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mixed")
    ap.add_argument("usual")
    ap.add_argument("liar", nargs="?")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    a = ap.parse_args()
    pairs, liars = paired(a.mixed, a.usual), liar(a.liar) if a.liar else None
    print(markdown(pairs, liars))
    if a.json:
        a.json.write_text(json.dumps({"runs": [a.mixed, a.usual, a.liar], "paired": pairs, "liar": liars}, indent=1))


if __name__ == "__main__":
    main()
