"""Every bad CLI or suite value is one line and a non-zero exit, never a traceback, never a silent run."""

import pytest
from click.testing import CliRunner

from silo.cli import main

BASE = ["run", "--team", "oracle", "--task", "I-01", "--n", "2", "--protocol", "p2p", "--no-progress",
        "--no-preflight"]


def _run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("args,needle", [
    (["--max-rounds", "0"], "max_rounds must be between 1"),
    (["--action-budget", "-1"], "action_budget must be between 1"),
    (["--max-cost", "nan"], "--max-cost must be between"),
    (["--max-cost", "-1"], "--max-cost must be between"),
    (["--max-total-tokens", "0"], "--max-total-tokens must be between"),
    (["--concurrency", "0"], "--concurrency must be between 1"),
    (["--replicates", "0"], "replicates must be between 1"),
    (["--task", ""], "tasks is empty"),
    (["--n", "100000"], "N must be between 1 and 1000"),
    (["--prompt-variant", "shouty"], "unknown prompt variant 'shouty'"),
    (["--temperature", "9"], "temperature must be between 0 and 2"),
    (["--max-tokens", "0"], "max_tokens must be between 1"),
    (["--seed", "-4"], "seed must be between 0"),
])
def test_bad_run_values(args, needle, tmp_path):
    res = _run(*BASE, *args, "-o", str(tmp_path / "r"))
    assert res.exit_code != 0, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "episodes").exists()  # nothing ran


def test_empty_out_and_directory_suite(tmp_path):
    res = _run(*BASE, "-o", "")
    assert res.exit_code != 0 and "--out is empty" in res.output
    res = _run(*BASE, "--suite", str(tmp_path), "-o", str(tmp_path / "r"))
    assert res.exit_code != 0 and "is a directory" in res.output and "Traceback" not in res.output


SUITE = """[suite]
name = "bad"
tasks = ["I-01"]
n_agents = [2]
protocols = ["p2p"]
teams = ["oracle"]
{line}
"""


@pytest.mark.parametrize("line,needle", [
    ('prompt_variants = ["loud"]', "unknown prompt variant 'loud'"),
    ('options = {retries = "three"}', "retries must be an integer, got 'three'"),
    ('options = {api_key = "sk-live-abcdefgh12345"}', "api_key holds a secret"),
    ('options = {timeout_s = -5}', "timeout_s must be between"),
    ('options = {concurrency = 0}', "concurrency must be between 1"),
    ("max_rounds = 0", "max_rounds must be between 1"),
])
def test_bad_suite_values(line, needle, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(SUITE.format(line=line))
    res = _run("run", "--suite", str(f), "--no-progress", "--no-preflight", "-o", str(tmp_path / "r"))
    assert res.exit_code != 0 and needle in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_unpriced_model_with_a_cost_ceiling_is_refused_up_front(tmp_path):
    args = ["run", "--team", "llm", "--model", "openai/some-local-model", "--api-base", "http://127.0.0.1:9/v1",
            "--task", "I-01", "--n", "2", "--protocol", "p2p", "--no-progress", "--no-preflight",
            "--max-cost", "0.01", "-o", str(tmp_path / "r")]
    res = _run(*args)
    assert res.exit_code != 0 and "--max-cost cannot be enforced" in res.output
    assert "input_cost_per_token" in res.output and "--max-total-tokens" in res.output


def test_a_garbage_scores_file_says_to_rescore(tmp_path):
    out = tmp_path / "r"
    assert _run(*BASE, "-o", str(out)).exit_code == 0
    (out / "scores.jsonl").write_text('{"not": "a score"}\n')
    res = _run("report", str(out))
    assert res.exit_code != 0 and f"silo score {out}" in res.output and len(res.output.strip().splitlines()) == 1
