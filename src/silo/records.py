"""Persisted records: every file silo writes is one of these pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

SCHEMA_VERSION = 1
# Episode files only. 2: one `deliver` event per receive, listing every message it delivered (msg_ids,
# senders); 1: one `deliver` event per message (msg_id, sender). Readers accept both (see deliveries()).
EPISODE_SCHEMA_VERSION = 2

Outcome = Literal["correct", "no_answer", "uninformed", "relay_loss", "integration_error", "lucky"]
OUTCOMES: tuple[str, ...] = ("correct", "no_answer", "uninformed", "relay_loss", "integration_error", "lucky")
EpisodeStatus = Literal["complete", "max_rounds", "error"]


class Record(BaseModel):
    """Base of persisted records: strict about unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Shard(Record):
    """One agent's private slice of the global input."""

    agent: int
    data: Any = Field(default=None, description="Machine-readable shard (JSON values).")
    text: str = Field(description="The shard as rendered into the agent's prompt.")


class Instance(Record):
    """A generated task instance: shards for every agent and the per-agent truth."""

    schema_version: int = SCHEMA_VERSION
    id: str
    task: str
    task_version: int
    level: int
    seed: int = Field(description="Instance seed, derived from (suite seed, task, N, replicate).")
    suite_seed: int
    replicate: int
    n_agents: int
    answer_kind: Literal["global", "segmented"]
    description: str = Field(description="Role-agnostic task statement shown to every agent.")
    answer_format: str
    params: dict[str, Any] = Field(default_factory=dict, description="Public parameters every agent sees.")
    shards: list[Shard]
    truth: list[Any] = Field(description="Correct answer of each agent, indexed by agent id.")


class Action(Record):
    """One action an agent asks for: a protocol tool name and its arguments."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ActionSpec(Record):
    """An action offered to agents, with a JSON schema usable as an LLM tool."""

    name: str
    description: str
    parameters: dict[str, Any]


EventKind = Literal[
    "send", "deliver", "write", "read", "list", "delete", "submit", "wait",
    "error", "action", "model_call", "note",
]


class Event(Record):
    """One entry of the append-only event log; every metric derives from these."""

    round: int
    agent: int = Field(description="Acting agent id; -1 for the environment.")
    kind: EventKind
    action: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    msg_id: int | None = Field(default=None, description=(
        "Message id of a send; in schema-1 episodes also of a deliver (one deliver event per message then)."))
    sender: int | None = Field(default=None, description=(
        "read: author of the file version read; deliver in schema-1 episodes: the message's sender."))
    msg_ids: list[int] | None = Field(default=None, description=(
        "deliver: the ids of every message one receive delivered, in delivery order (with `senders`)."))
    senders: list[int] | None = Field(default=None, description="deliver: the sender of each of `msg_ids`.")
    to: list[int] | None = None
    path: str | None = None
    version: int | None = Field(default=None, description="File version id for write/read.")
    versions: list[int] | None = Field(default=None, description="File versions revealed by a listing.")
    content: str | None = Field(default=None, description="Content sent or written (send/write only).")
    chars: int = 0
    data: dict[str, Any] = Field(default_factory=dict, description="Kind-specific extras (model calls, notes).")


LEAN_SKIPPED = ("args", "result", "data")
ScoredEvent = create_model(
    "ScoredEvent", __config__=ConfigDict(extra="ignore"), __doc__=(
        "An Event as scoring reads it: every field but args, result and data (an agent's submitted answer, a "
        "listing's names, model-call extras), which a CRC-checked episode file's line skips unparsed "
        "(episode_io.read_scored). Read-only use: it is not an Event and is never written."),
    **{k: (f.annotation, f) for k, f in Event.model_fields.items() if k not in LEAN_SKIPPED})


def deliveries(e: Event) -> list[tuple[int, int | None]]:
    """(message id, sender) of each message a deliver event delivered: one receive lists them all
    (`msg_ids`, `senders`); logs written before that carry one event per message (`msg_id`, `sender`)."""
    if e.msg_ids is not None:
        senders = e.senders if e.senders is not None else [None] * len(e.msg_ids)
        return list(zip(e.msg_ids, senders, strict=True))
    return [] if e.msg_id is None else [(e.msg_id, e.sender)]


class Submission(Record):
    """An agent's final answer."""

    agent: int
    round: int
    answer: Any = None  # default only so files written without null fields load back


class Usage(Record):
    """Model usage summed over an episode (zero for scripted teams)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


class Limits(Record):
    """Protocol limits; invalid actions against them are errors returned to the agent."""

    max_message_chars: int = 65536
    max_file_chars: int = 65536
    max_files: int = 10000
    max_path_chars: int = 200


class EpisodeConfig(Record):
    """Everything that determines one episode besides the instance."""

    task: str
    n_agents: int
    protocol: str
    team: str = Field(description="Scripted team name, or 'llm'.")
    models: list[str] | None = Field(default=None, description="Model of each agent (LLM teams).")
    prompt_variant: str = "neutral"
    replicate: int = 0
    suite_seed: int = 0
    max_rounds: int = 100
    action_budget: int = 10
    limits: Limits = Field(default_factory=Limits)
    extra: dict[str, Any] = Field(default_factory=dict, description="Protocol or agent options.")


class Episode(Record):
    """A self-contained episode: config, the instance itself, the event log and the outcome."""

    schema_version: int = EPISODE_SCHEMA_VERSION
    id: str
    config: EpisodeConfig
    instance: Instance
    events: list[Event]
    submissions: list[Submission]
    status: EpisodeStatus
    error: str | None = None
    rounds: int
    usage: Usage = Field(default_factory=Usage)
    world: dict[str, Any] = Field(default_factory=dict, description="Protocol facts, e.g. a communication graph.")
    wall_s: float = 0.0


class AgentScore(Record):
    """Per-agent scores: answer correct and information held, measured separately."""

    episode_id: str
    agent: int
    submitted: bool
    submit_round: int | None
    correct: bool
    partial: float
    reach: float = Field(description="Share of depends_on reached by a time-respecting chain.")
    evidence: float = Field(description="Share of depends_on whose information demonstrably arrived.")
    held: bool
    outcome: Outcome | None = Field(description="Exactly one class per agent; None when the episode errored "
                                                 "(errors are never scored as wrong answers).")
    model: str | None = None
    role: str | None = Field(default=None, description=(
        "What played this agent: 'llm', 'partner:<kind>' or 'scripted:<team>' (filled from team and model)."))
    self_contained: bool = Field(default=False, description=(
        "depends_on is only the agent itself: set apart from H, the gap and the outcome shares "
        "of the headline (its failures are solo errors)."))
    scorer_version: int = Field(default=1, description="Version of the scoring rules (silo.scoring.SCORER_VERSION).")


class EpisodeScore(Record):
    """Per-episode scores derived only from the episode record."""

    schema_version: int = SCHEMA_VERSION
    episode_id: str
    task: str
    level: int
    n_agents: int
    protocol: str
    team: str
    prompt_variant: str
    replicate: int
    instance_id: str
    status: EpisodeStatus
    error: str | None = None
    success: float | None = Field(description="S: share of agents correct (None if the episode errored).")
    partial: float | None
    held: float | None
    solved: bool | None = Field(description="Every agent correct (S = 1).")
    consensus_failure: bool | None
    unanimous: bool | None
    messages: int
    bytes: int
    density: float
    rounds: int
    rounds_to_completion: int | None
    tool_errors: int
    usage: Usage
    agents: list[AgentScore]
    set_apart: int = Field(default=0, description="Agents set apart as self-contained (depends_on = itself).")
    scorer_version: int = Field(default=1, description="Version of the scoring rules (silo.scoring.SCORER_VERSION).")
    task_version: int | None = Field(default=None, description="Version of the task generator of the instance.")

    @model_validator(mode="after")
    def _roles(self) -> EpisodeScore:
        for a in self.agents:
            if a.role is None:
                a.role = role_of(self.team, a.model)
        return self


def role_of(team: str, model: str | None) -> str:
    """An agent's role: its partner or scripted model entry, else 'llm' in an LLM team, else its scripted team."""
    if model and model.startswith(("partner:", "scripted:")):
        return model
    return "llm" if team == "llm" else f"scripted:{team}"


class RunConfig(Record):
    """A resolved sweep: what `silo run` was asked to do."""

    schema_version: int = SCHEMA_VERSION
    suite: str = "adhoc"
    tasks: list[str]
    n_agents: list[int]
    protocols: list[str]
    teams: list[str]
    prompt_variants: list[str] = Field(default_factory=lambda: ["neutral"])
    replicates: int = 1
    seed: int = 0
    max_rounds: int = 100
    action_budget: int = 10
    models: list[str] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
