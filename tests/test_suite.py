"""Suite files: the bundled ones load; bad ones are rejected with a message naming the culprit."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from silo.cli import main
from silo.runner import expand
from silo.suite import SuiteError, load_suite


def test_reference_grid_has_the_papers_shape():
    rc = load_suite("silo-bench")
    assert rc.n_agents == [1, 2, 5, 10, 20, 50, 100]
    assert sorted(rc.protocols) == ["broadcast", "p2p", "sfs"]
    specs = expand(rc)
    n_tasks = len(rc.tasks)
    assert len(specs) == n_tasks * (6 * 3 + 1)  # N = 1 runs once, without a protocol


BUNDLED = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "tasks").glob("*.toml"))


def test_every_documented_suite_is_bundled():
    assert {"silo-bench", "quick", "ablation-prompts", "structure", "structure-quick"} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_suites_load(name):
    assert expand(load_suite(name))


def test_suite_options_reach_the_model_settings():
    from silo.llm import LLMSettings

    spec = expand(load_suite("quick"))[0]
    assert LLMSettings.from_extra("local/smollm2-135m", spec.config.extra).max_tokens == 256


@pytest.mark.parametrize("body,needle", [
    ('name="x"\nn_agents=[2]\nbogus=1', "unknown key: bogus"),
    ('name="x"\nn_agents=[2]\ntasks=["I-99"]', "unknown task 'I-99'"),
    ('name="x"\nn_agents=[2]\nprotocols=["smoke"]', "unknown protocol 'smoke'"),
    ('name="x"\nn_agents=[0]', "n_agents must be >= 1"),
    ('name="x"', "n_agents"),
    ('name="x"\nn_agents=[2', "invalid TOML"),
])
def test_bad_suite_is_rejected_naming_the_problem(tmp_path, body, needle):
    f = tmp_path / "s.toml"
    f.write_text("[suite]\n" + body + "\n")
    with pytest.raises(SuiteError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        load_suite(str(f))
    res = CliRunner().invoke(main, ["run", "--suite", str(f)])
    assert res.exit_code == 2 and needle.split(":")[0] in res.output and "Traceback" not in res.output


def test_cli_options_override_suite_values(tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(main, ["run", "--suite", "quick", "--team", "oracle", "--n", "2", "--task", "I-01",
                                    "--no-progress", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 episodes" in res.output  # I-01 x N=2 x 3 protocols, suite's other values kept


def test_generate_suite_streams_every_instance(tmp_path):
    out = tmp_path / "i.jsonl"
    res = CliRunner().invoke(main, ["generate", "--suite", "quick", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rc = load_suite("quick")
    assert len(out.read_text().splitlines()) == len(rc.tasks) * len(rc.n_agents)
