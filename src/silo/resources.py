"""Files shipped inside the package: suites (`silo/suites/*.toml`) and data (`silo/data/*.json`).

In a checkout, `src/silo/suites` and `src/silo/data` are symlinks to the repo's `tasks/` and `data/`
folders (where suites and frozen artefacts are edited and reviewed); a built wheel holds real
copies. Either way they are read through importlib.resources, never relative to the working
directory, so an installed silo finds them wherever it runs. Every file in the folders counts:
a new suite or data file needs no registration.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any


def _folder(name: str) -> Traversable:
    return files("silo") / name


def suites() -> dict[str, Traversable]:
    """Bundled suites by name (file stem), sorted."""
    folder = _folder("suites")
    if not folder.is_dir():
        return {}
    found = {f.name[: -len(".toml")]: f for f in folder.iterdir() if f.name.endswith(".toml") and f.is_file()}
    return dict(sorted(found.items()))


def data_file(name: str) -> Traversable | None:
    """A bundled data file (e.g. 'guessability.json'), or None when the package holds none of that name."""
    f = _folder("data") / name
    return f if f.is_file() else None


def data_files() -> list[str]:
    """Names of every bundled data file."""
    folder = _folder("data")
    return sorted(f.name for f in folder.iterdir() if f.is_file()) if folder.is_dir() else []


def load_json(name: str) -> Any:
    """A bundled JSON data file, parsed; None when it is not there."""
    f = data_file(name)
    return json.loads(f.read_text()) if f is not None else None
