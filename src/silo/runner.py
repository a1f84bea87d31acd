"""Runner: expand a sweep into episode specs, run them, write each episode atomically to a run directory.

Run directory layout:
    config.json           the resolved RunConfig, package version and git hash
    episodes/<id>.json    one self-contained Episode record per file (written via rename)
    scores.jsonl          EpisodeScore records (derived; `silo score` rebuilds it)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from silo import __version__
from silo.episode import Agent, episode_id, run_episode
from silo.protocols import protocol_class
from silo.records import Episode, EpisodeConfig, EpisodeScore, Instance, RunConfig
from silo.scoring import score_episode
from silo.tasks import get_task


@dataclass(frozen=True)
class EpisodeSpec:
    """One cell of a sweep: an instance to generate and the config to run it with."""

    config: EpisodeConfig

    @property
    def instance(self) -> Instance:
        c = self.config
        return get_task(c.task).make_instance(c.n_agents, c.suite_seed, c.replicate)

    @property
    def id(self) -> str:
        c = self.config
        t = get_task(c.task)
        inst_id = f"{t.id}-v{t.version}-n{c.n_agents}-s{c.suite_seed}-r{c.replicate}"
        return episode_id(c, inst_id)


def expand(rc: RunConfig) -> list[EpisodeSpec]:
    """Every episode of a sweep, in a stable order; N = 1 runs once, with no protocol."""
    for t in rc.tasks:
        get_task(t)
    for p in rc.protocols:
        protocol_class(p)
    for n in rc.n_agents:
        if n < 1:
            raise ValueError(f"N must be >= 1, got {n}")
    specs, seen = [], set()
    for task in rc.tasks:
        tid = get_task(task).id
        for n in rc.n_agents:
            for proto in rc.protocols:
                p = "none" if n == 1 else protocol_class(proto).name
                for team in rc.teams:
                    for variant in rc.prompt_variants if team == "llm" else ["neutral"]:
                        for rep in range(rc.replicates):
                            cfg = EpisodeConfig(
                                task=tid, n_agents=n, protocol=p, team=team, prompt_variant=variant,
                                replicate=rep, suite_seed=rc.seed, max_rounds=rc.max_rounds,
                                action_budget=rc.action_budget,
                                models=resolve_models(rc.models, n) if team == "llm" else None,
                                extra=rc.extra,
                            )
                            spec = EpisodeSpec(cfg)
                            if spec.id not in seen:
                                seen.add(spec.id)
                                specs.append(spec)
    return specs


def resolve_models(models: list[str] | None, n: int) -> list[str] | None:
    """Per-agent models: plain entries are cycled over agent ids; 'K=model' pins agent K."""
    if not models:
        return None
    pinned = {}
    cycle = []
    for m in models:
        head, sep, rest = m.partition("=")
        if sep and head.strip().isdigit():
            pinned[int(head)] = rest.strip()
        else:
            cycle.append(m)
    bad = [k for k in pinned if k >= n]
    if bad:
        raise ValueError(f"model pinned to agent {bad[0]}, but N = {n}")
    if not cycle and len(pinned) < n:
        raise ValueError("every agent needs a model: pin all of them or give models to cycle")
    return [pinned.get(a) or cycle[a % len(cycle)] for a in range(n)]


TeamFactory = Callable[[Instance, EpisodeConfig], list[Agent]]


def default_team_factory(inst: Instance, cfg: EpisodeConfig) -> list[Agent]:
    """Scripted teams by name; 'llm' builds LLM agents (imported lazily)."""
    if cfg.team == "llm":
        from silo.agents.llm_agent import llm_team

        return llm_team(inst, cfg)
    from silo.agents.scripted import scripted_team

    return scripted_team(cfg.team, inst, cfg.protocol)


class RunDir:
    """A run directory on disk."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def episodes_dir(self) -> Path:
        return self.path / "episodes"

    def init(self, rc: RunConfig) -> None:
        try:
            self.episodes_dir.mkdir(parents=True, exist_ok=True)
            meta = {"run": rc.model_dump(mode="json"), "silo_version": __version__, "git": _git_hash()}
            atomic_write(self.path / "config.json", json.dumps(meta, indent=2))
        except OSError as e:
            raise RunDirError(f"cannot write run directory {self.path}: {e.strerror or e}") from e

    def done_ids(self) -> set[str]:
        """Ids of episodes already written that did not end in error."""
        out = set()
        for f in self.episode_files():
            try:
                status = json.loads(f.read_text()).get("status")
            except (OSError, ValueError):
                continue
            if status != "error":
                out.add(f.stem)
        return out

    def episode_files(self) -> list[Path]:
        return sorted(self.episodes_dir.glob("*.json")) if self.episodes_dir.is_dir() else []

    def write_episode(self, ep: Episode) -> None:
        try:
            atomic_write(self.episodes_dir / f"{ep.id}.json", ep.model_dump_json())
        except OSError as e:
            raise RunDirError(f"cannot write episode to {self.episodes_dir}: {e.strerror or e}") from e

    def episodes(self):
        """Yield every episode record (one at a time, to bound memory)."""
        if not self.path.is_dir():
            raise RunDirError(f"not a run directory: {self.path}")
        for f in self.episode_files():
            try:
                yield Episode.model_validate_json(f.read_bytes())
            except (OSError, ValueError) as e:
                raise RunDirError(f"unreadable episode file {f}: {str(e).splitlines()[0]}") from e

    def write_scores(self, scores: list[EpisodeScore]) -> Path:
        out = self.path / "scores.jsonl"
        atomic_write(out, "".join(s.model_dump_json() + "\n" for s in scores))
        return out

    def scores(self) -> list[EpisodeScore]:
        f = self.path / "scores.jsonl"
        if not f.exists():
            raise RunDirError(f"no scores in {self.path}; run `silo score {self.path}` first")
        return [EpisodeScore.model_validate_json(line) for line in f.read_text().splitlines() if line.strip()]


class RunDirError(Exception):
    """A run directory that cannot be read or written."""


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


async def run_specs(specs: list[EpisodeSpec], run_dir: RunDir, factory: TeamFactory = default_team_factory,
                    concurrency: int = 4, progress: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Run specs with bounded concurrency; each finished episode is written before the next starts."""
    sem = asyncio.Semaphore(concurrency)
    done: list[Episode] = []

    async def one(spec: EpisodeSpec) -> None:
        async with sem:
            inst = spec.instance
            ep = await run_episode(inst, spec.config, factory(inst, spec.config))
            run_dir.write_episode(ep)
            done.append(ep)
            if progress:
                progress(ep)

    await asyncio.gather(*(one(s) for s in specs))
    return done


def score_run(run_dir: RunDir) -> list[EpisodeScore]:
    """Re-score every episode of a run directory (pure, offline) and write scores.jsonl."""
    scores = [score_episode(ep) for ep in run_dir.episodes()]
    scores.sort(key=lambda s: s.episode_id)
    run_dir.write_scores(scores)
    return scores
