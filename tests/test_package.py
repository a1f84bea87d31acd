"""The built wheel is enough on its own: installed into a fresh virtualenv outside the checkout, it lists
tasks, runs a bundled suite and reports, with its suites and data read from inside the package.

The fresh venv gets silo from the wheel only (pip --no-deps); its third-party dependencies come from the
dev venv's site-packages through a .pth line (paths a .pth adds are not scanned for further .pth files,
so the dev venv's editable silo, a .pth pointing at src/, stays invisible). Installing the dependencies
from the registry would take minutes and prove nothing about the wheel.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sh(cmd: list[str], cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(map(str, cmd))
    assert res.returncode == 0, f"{shown} -> {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)], cwd=out)
    return next(out.glob("silo_bench-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    venv = home / "v"
    _sh([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=home)
    py = venv / "bin" / "python"
    _sh([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], cwd=home)
    fresh_site = Path(_sh([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          cwd=home).stdout.strip())
    (fresh_site / "dev_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _env(venv: Path) -> dict:
    keep = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**keep, "PATH": f"{venv / 'bin'}:{keep.get('PATH', '')}", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "HF_HUB_OFFLINE": "1"}


def test_wheel_ships_every_suite_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in (ROOT / "tasks").glob("*.toml"):  # whatever suites the checkout holds, the wheel has them
        assert f"silo/suites/{suite.name}" in names
    for data in (ROOT / "data").glob("*.json"):
        assert f"silo/data/{data.name}" in names
    assert "silo/viewer_page.html" in names


def test_installed_wheel_runs_outside_the_checkout(venv, tmp_path):
    env, silo = _env(venv), str(venv / "bin" / "silo")
    where = _sh([str(venv / "bin" / "python"), "-c", "import silo, silo.resources as r; print(silo.__file__); "
                 "print(r.data_file('guessability.json')); print(len(r.load_json('guessability.json')))"],
                cwd=tmp_path, env=env).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), f"not read from the wheel: {where}"
    assert int(where[2]) == len(json.loads((ROOT / "data" / "guessability.json").read_text()))
    listing = _sh([silo, "tasks"], cwd=tmp_path, env=env).stdout.splitlines()
    assert len(listing) >= 30 and listing[0].startswith("I-01")
    res = _sh([silo, "run", "--suite", "quick", "--team", "oracle", "--no-progress", "-o", "runs/q"],
              cwd=tmp_path, env=env)
    assert "unknown suite" not in res.stderr
    run = tmp_path / "runs" / "q"
    assert json.loads((run / "config.json").read_text())["run"]["suite"] == "quick"
    scores = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert scores and all(s["status"] != "error" for s in scores)
    _sh([silo, "report", str(run), "--no-plots"], cwd=tmp_path, env=env)
    assert "silo report" in (run / "report" / "report.md").read_text()
