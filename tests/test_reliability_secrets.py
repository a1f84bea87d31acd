"""Secret scan: a key planted everywhere a user (or a misbehaving server) might put it never reaches any file
that run, report, view and publish write, nor the model-call cache."""

import gzip
import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from fault_server import FaultServer
from silo import episode_io
from silo.cli import main

KEY = "sk-PLANTED-scan-0123456789abcdef"
OTHER = "sk-openai-PLANTED-9876543210"


def _cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res


def _texts(root: Path):
    for f in root.rglob("*"):
        if not f.is_file() or f.suffix == ".png":
            continue
        if f.suffix == ".parquet":
            yield f, json.dumps(pl.read_parquet(f).to_dicts(), default=str)
        elif f.suffix == ".gz":  # episode files: search the decompressed text
            yield f, gzip.decompress(f.read_bytes()).decode("utf-8", "replace")
        else:
            yield f, f.read_bytes().decode("utf-8", "replace")


def test_no_key_reaches_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("SILO_SCAN_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OTHER)  # must be neither sent to our server nor written
    monkeypatch.setenv("SILO_CACHE_DIR", str(tmp_path / "cache"))
    leak = json.dumps({"name": "send_message", "arguments": {"target_id": 1, "content": f"the key is {KEY}"}})

    def script(request):  # a server that echoes the key: in a reply, and (first) in an error body
        turns = sum(m["role"] == "assistant" for m in request["messages"])
        return ("ok", leak) if turns == 0 else ("ok", '{"name": "submit_result", "arguments": {"answer": 1}}')

    out = tmp_path / "run"
    with FaultServer(default=script) as fs:
        fs.queue(("echo_key", 500), ("echo_key", 401))
        res = _cli("run", "--team", "llm", "--model", "openai/fault", "--api-base", fs.base,
                   "--api-key-env", "SILO_SCAN_KEY", "--task", "I-01,I-07", "--n", "2", "--protocol", "p2p",
                   "--max-rounds", "3", "--no-progress", "--no-preflight", "--no-fail-on-error", "-o", out)
        assert res.exit_code == 4, res.output  # the 401 stops the run (fatal, docs/llm.md)
        auth = {h.get("Authorization") or h.get("authorization") for h in fs.headers}
    assert auth == {f"Bearer {KEY}"}
    eps = [episode_io.load_dict(f) for f in episode_io.files(out / "episodes")]
    assert any(ep["status"] == "error" for ep in eps)  # the 401 (its body quoted the key) ended one episode
    assert any("***" in json.dumps(ep) for ep in eps)  # the echoes were recorded, masked
    # places a user might put the key itself are refused, without echoing it
    suite = tmp_path.parent / f"{tmp_path.name}-input.toml"  # the user's own file: outside the scanned tree
    suite.write_text(f'[suite]\nname = "s"\ntasks = ["I-01"]\nn_agents = [2]\noptions = {{api_key = "{KEY}"}}\n')
    for bad in (["--suite", suite], ["-M", f"api_key={KEY}"], ["-M", f"extra_headers={KEY}"]):
        res = _cli("run", *bad, "--no-preflight", "--no-progress", "-o", tmp_path / "refused")
        assert res.exit_code != 0 and KEY not in res.output and "secret" in res.output, res.output
    assert _cli("report", out, "-o", tmp_path / "report").exit_code == 0
    assert _cli("view", out, "-o", tmp_path / "view.html").exit_code == 0
    assert _cli("publish", out, "--to-dir", tmp_path / "pub").exit_code == 0
    scanned = 0
    for f, text in _texts(tmp_path):
        scanned += 1
        assert KEY not in text and OTHER not in text, f"key in {f}"
    assert scanned > 10 and (tmp_path / "cache").is_dir()
