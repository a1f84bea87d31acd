"""Extensions as plugins: ids validated at registration, broken plugins isolated, protocols chosen by
capability, and the example package under examples/ installed and run through the CLI.

The example is installed (editable, no deps) into a fresh virtualenv that sees silo's source and the dev
venv's dependencies through a .pth file, not into the shared dev venv: its task would otherwise join
every registry-wide test (conformance, golden hashes) of every other test session.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo import plugins
from silo.cli import main
from silo.protocols import PROTOCOLS, ProtocolRegistrationError, register_protocol
from silo.protocols.messaging import P2P
from silo.tasks import TaskRegistrationError, all_tasks, register
from silo.tasks.base import TaskSpec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "silo-plugin-example"


class NoNumberTask(TaskSpec):  # an id without -<integer>: the registry must refuse it, not break
    id = "BROKEN"
    slug = "broken"
    name = "broken"
    level = 1


class Chatline(P2P):  # a protocol silo has never heard of, offering direct messages
    name = "chatline"


def test_a_task_id_without_a_number_is_refused_with_the_class_and_field():
    before = [t.id for t in all_tasks()]
    with pytest.raises(TaskRegistrationError, match=r"test_plugins.NoNumberTask: id 'BROKEN' must look like PREFIX"):
        register(NoNumberTask)
    assert [t.id for t in all_tasks()] == before
    assert CliRunner().invoke(main, ["tasks"]).exit_code == 0


@pytest.mark.parametrize("name", ["Bad Name", "p2p:ring", "x+commit", "bp", "p2p"])
def test_protocol_names_are_validated(name):
    cls = type("P", (P2P,), {"name": name})
    with pytest.raises(ProtocolRegistrationError):
        register_protocol(cls)


def test_a_broken_entry_point_is_skipped_with_one_warning(monkeypatch, capsys):
    bad = EntryPoint(name="broken", value="test_plugins:NoNumberTask", group="silo.tasks")
    missing = EntryPoint(name="gone", value="no_such_module_xyz", group="silo.tasks")
    monkeypatch.setattr(plugins, "scan", lambda: {"silo.tasks": [bad, missing]})
    monkeypatch.setattr(plugins, "_found", [])
    monkeypatch.setattr(plugins, "_loaded", set())
    plugins.load_group("silo.tasks")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("warning: skipped plugin") for line in err)
    assert "id 'BROKEN' must look like" in err[0] and "no_such_module_xyz" in err[1]
    assert len(all_tasks()) >= 30


def _dist(home: Path, name: str, entry_points: str | None) -> Path:
    """An installed distribution's metadata folder, as pip leaves it in site-packages."""
    info = home / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)
    return home


def test_one_scan_finds_each_group_as_entry_points_of_that_group_does(tmp_path, monkeypatch):
    from importlib.metadata import entry_points

    _dist(tmp_path, "silo_fake_a", "[console_scripts]\nfa = silo.cli:main\n\n[silo.teams]\necho = fa.teams:echo\n"
                                   "\n[silo.tasks]\nfa = fa.tasks\n")
    _dist(tmp_path, "silo_fake_b", "  [silo.protocols]  \nrelay = fb:Relay\n[silo.tasks]\nfb = fb.tasks:T\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    got = {g: [(e.name, e.value) for e in eps] for g, eps in plugins.scan().items()}
    want = {g: [(e.name, e.value) for e in entry_points(group=g)] for g in plugins.GROUPS}
    assert got == want
    assert ("echo", "fa.teams:echo") in got["silo.teams"] and len(got["silo.tasks"]) >= 2


def _plain_meta_path(monkeypatch):
    """sys.meta_path without other finders of distributions: a process that has imported litellm has the
    importlib_metadata backport's finder there too (so _declared, conservative, always says True in it), and
    the suite imports litellm before these tests run."""
    from importlib.machinery import PathFinder

    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if f is PathFinder
                                           or getattr(f, "find_distributions", None) is None])


def test_nothing_declared_where_no_entry_points_file_has_a_silo_group_header(tmp_path, monkeypatch):
    _plain_meta_path(monkeypatch)
    plain = _dist(tmp_path / "plain", "tool", "[console_scripts]\nsilo = silo.cli:main\n")
    _dist(plain, "bare", None)
    (plain / "old.egg-info").write_text("Metadata-Version: 1.0\n")  # an egg-info file, not a folder
    monkeypatch.setattr(sys, "path", [str(plain), str(tmp_path / "gone")])
    assert not plugins._declared() and plugins.scan() == {}
    with_group = _dist(tmp_path / "with", "ext", "[[silo.tasks]]\nx = ext.tasks\n")
    monkeypatch.setattr(sys, "path", [str(plain), str(with_group)])
    assert plugins._declared()
    (tmp_path / "lib.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: read by importlib.metadata
    monkeypatch.setattr(sys, "path", [str(plain), str(tmp_path / "lib.zip")])
    assert plugins._declared()


def test_another_finder_of_distributions_means_a_full_scan(tmp_path, monkeypatch):
    class Finder:
        @staticmethod
        def find_spec(*_):
            return None

        @staticmethod
        def find_distributions(*_, **__):
            return iter(())

    _plain_meta_path(monkeypatch)
    monkeypatch.setattr(sys, "path", [str(_dist(tmp_path, "tool", None))])
    assert not plugins._declared()
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    assert plugins._declared()


def test_the_distributions_are_scanned_once_per_process(monkeypatch):
    scans = []
    monkeypatch.setattr(plugins, "scan", lambda: scans.append(1) or {})
    monkeypatch.setattr(plugins, "_found", [])
    plugins.load_all()
    plugins.load_all()
    plugins.load_group("silo.teams")
    assert scans == [1]


def test_without_silo_plugins_installed_importlib_metadata_is_never_imported(tmp_path):
    """No site-packages (python -S): no distribution at all, so plugin discovery reads no metadata."""
    code = ("import sys; from silo import plugins; plugins.load_all(); "
            "print(sorted(plugins._found[0]), 'importlib.metadata' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != plugins.ENV} | {"PYTHONPATH": str(ROOT / "src")}
    out = _sh([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env).stdout
    assert out.strip() == "[] False"


def test_a_named_module_that_cannot_be_imported_is_one_line_exit_2(monkeypatch):
    monkeypatch.setenv(plugins.ENV, "")  # the CLI exports the module list; restored after the test
    res = CliRunner().invoke(main, ["--plugin", "no_such_module_xyz", "tasks"])
    assert res.exit_code == 2 and "cannot import plugin module 'no_such_module_xyz'" in res.output


def test_scripted_teams_run_on_a_new_protocol_by_its_capabilities(tmp_path, monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "chatline", Chatline)
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", "--team", "oracle,gossip", "--task", "I-01,II-11", "--n", "3",
                                    "--protocol", "chatline", "--no-progress", "-o", str(out)])
    assert res.exit_code == 0, res.output
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 4 and all(s["status"] == "complete" and s["success"] == 1.0 for s in scores)


# ---- the example package, installed ------------------------------------------------------------

def _sh(cmd, cwd, env=None, ok=True):
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert res.returncode == 0, f"{cmd} -> {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("pluginvenv")
    venv = home / "v"
    _sh([sys.executable, "-m", "venv", "--without-pip", venv], cwd=home)
    py = venv / "bin" / "python"
    purelib = _sh([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=home).stdout.strip()
    (Path(purelib) / "silo_dev.pth").write_text("\n".join([str(ROOT / "src"), *site.getsitepackages()]) + "\n")
    _sh([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "-e", EXAMPLE], cwd=home)
    return venv


def _silo(venv: Path, *args, cwd: Path, ok=True):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", plugins.ENV)}
    env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"}
    return _sh([venv / "bin" / "python", "-m", "silo.cli", *args], cwd=cwd, env=env, ok=ok)


def test_example_plugin_runs_through_run_score_view_publish(plugin_venv, tmp_path):
    listing = json.loads(_silo(plugin_venv, "tasks", "--json", cwd=tmp_path).stdout)
    ex = next(t for t in listing if t["id"] == "EX-1")
    assert ex["source"] == "silo_plugin_example.tasks" and len(listing) >= 31
    assert "global sum" in _silo(plugin_venv, "tasks", "EX-1", cwd=tmp_path).stdout
    run = tmp_path / "run"
    _silo(plugin_venv, "run", "--task", "EX-1,I-01", "--n", "1,3", "--protocol", "postbox,p2p",
          "--team", "oracle,relay", "--no-progress", "-o", run, cwd=tmp_path)
    scores = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    ex_scores = [s for s in scores if s["task"] == "EX-1"]
    assert {s["protocol"] for s in ex_scores} == {"none", "postbox", "p2p"}
    assert {s["team"] for s in ex_scores} == {"oracle", "relay"}
    assert all(s["status"] == "complete" and s["success"] == 1.0 for s in scores), scores
    assert all(s["held"] == 1.0 for s in ex_scores if s["team"] == "oracle")
    first = (run / "scores.jsonl").read_text()
    (run / "scores.jsonl").unlink()
    _silo(plugin_venv, "score", run, cwd=tmp_path)
    assert (run / "scores.jsonl").read_text() == first
    _silo(plugin_venv, "view", run, cwd=tmp_path)
    assert "EX-1" in (run / "viewer.html").read_text()
    _silo(plugin_venv, "publish", run, "--to-dir", tmp_path / "hf", cwd=tmp_path)
    assert any((tmp_path / "hf").rglob("*.parquet"))


def test_without_the_plugin_its_run_is_a_clear_error(plugin_venv, tmp_path):
    """The same run directory read by a silo that lacks the plugin: one line naming the task, no traceback."""
    run = tmp_path / "run"
    _silo(plugin_venv, "run", "--task", "EX-1", "--n", "2", "--protocol", "p2p", "--team", "oracle",
          "--no-progress", "-o", run, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", plugins.ENV)}
    res = _sh([sys.executable, "-m", "silo.cli", "score", run], cwd=tmp_path, env=env, ok=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "EX-1" in res.stderr
