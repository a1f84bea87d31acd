"""`silo export inspect`: the logs read back with inspect_ai's own reader and match the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo import episode_io
from silo.agents.llm_agent import replay_messages
from silo.cli import main
from silo.records import Episode

log = pytest.importorskip("inspect_ai.log", reason="the Inspect export needs the optional extra silo-bench[inspect]")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A scripted run (one episode turned into an error, as a crashed episode is recorded) and the recorded
    embedded-model run."""
    root = tmp_path_factory.mktemp("insp")
    res = CliRunner().invoke(main, ["run", "--team", "oracle,premature", "--task", "I-01,II-11", "--n", "1,3",
                                    "--protocol", "p2p", "--no-progress", "-o", str(root / "scripted")])
    assert res.exit_code == 0, res.output
    f = next(f for f in episode_io.files(root / "scripted" / "episodes") if "-n3-" in f.name)
    ep = episode_io.read(f)
    ep.status, ep.error = "error", "AgentFailure: agent 1 (m): timed out"
    episode_io.write(f.parent, ep)
    shutil.copytree(Path(__file__).parent / "data" / "llm_run", root / "llm_run")
    return root / "scripted", root / "llm_run"


def _export(run: Path, out: Path) -> list[Path]:
    res = CliRunner().invoke(main, ["export", "inspect", str(run), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return [Path(line.split(" -> ")[1]) for line in res.output.splitlines() if " -> " in line]


def test_one_log_per_configuration_one_sample_per_episode_scores_match(runs, tmp_path):
    from silo.scoring import score_episode

    scripted, _ = runs
    paths = _export(scripted, tmp_path / "out")
    assert len(paths) == 2 and all(p.suffix == ".eval" for p in paths)
    eps = {ep.id: ep for ep in map(episode_io.read, episode_io.files(scripted / "episodes"))}
    seen = set()
    for p in paths:
        lg = log.read_eval_log(str(p))
        team = lg.eval.metadata["team"]
        assert lg.eval.model == f"silo/{team}" and lg.eval.dataset.samples == len(lg.samples)
        for s in lg.samples:
            ep = eps[s.id]
            seen.add(s.id)
            assert ep.config.team == team and s.metadata["protocol"] == ep.config.protocol
            assert s.target == [json.dumps(t, separators=(",", ":")) for t in ep.instance.truth]
            sc = score_episode(ep)
            if ep.status == "error":
                assert s.error is not None and "timed out" in s.error.message and not s.scores
                continue
            v = s.scores["silo"].value
            assert (v["S"], v["P"], v["H"]) == (sc.success, sc.partial, sc.held)
            assert [a["outcome"] for a in s.metadata["agents"]] == [a.outcome for a in sc.agents]
            assert sum(s.metadata["outcomes"].values()) == ep.instance.n_agents
            assert s.metadata["scorer_version"] == sc.scorer_version and s.metadata["set_apart"] == sum(
                a.self_contained for a in sc.agents)
            assert s.scores["silo"].explanation.count("agent ") == ep.instance.n_agents
            # each scripted agent: its private data, then what it sent and submitted
            for a in range(ep.instance.n_agents):
                mine = [m for m in s.messages if m.metadata["agent"] == a]
                assert ep.instance.shards[a].text in mine[0].text
                sends = [e for e in ep.events if e.agent == a and e.kind in ("send", "submit")]
                assert len(mine) - 1 == len(sends)
        ok = [s for s in lg.samples if s.scores]
        want = sum(s.scores["silo"].value["S"] for s in ok) / len(ok)
        assert lg.results.scores[0].metrics["S"].value == pytest.approx(want)
        assert lg.status == ("error" if len(ok) < len(lg.samples) else "success")
    assert seen == set(eps)


def test_llm_agents_messages_are_what_the_model_received(runs, tmp_path):
    _, llm_run = runs
    (p,) = _export(llm_run, tmp_path / "out")
    lg = log.read_eval_log(str(p))
    assert lg.eval.model == "local/smollm2-135m" and len(lg.samples) == 1
    s = lg.samples[0]
    ep = Episode.model_validate_json(next((llm_run / "episodes").glob("*.json")).read_text())
    for a in range(ep.instance.n_agents):
        mine = [m for m in s.messages if m.metadata["agent"] == a]
        last = replay_messages(ep.events, a)[-1]
        # the last request, in order, plus the final reply(s) the history did not send back
        assert [m.text for m in mine][:len(last)] == [m["content"] for m in last]
        assert mine[0].role == "system" and ep.instance.shards[a].text[:30] in mine[0].text
        replies = [e.data["response"]["content"] for e in ep.events if e.kind == "model_call" and e.agent == a
                   and e.data.get("purpose") != "prefill"]
        assert [m.text for m in mine if m.role == "assistant"] == replies
    assert s.model_usage["local/smollm2-135m"].output_tokens == ep.usage.output_tokens


def test_export_bad_input(tmp_path):
    res = CliRunner().invoke(main, ["export", "inspect", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a run directory" in res.output
