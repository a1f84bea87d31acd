"""`silo run`, `silo resume` and `silo merge` (registered on the group in cli.py), and the option parsers
and summary printer the other commands share."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from silo.cli_parse import _csv, _ints
from silo.local_model import DEFAULT_MODEL

if TYPE_CHECKING:  # the engine is imported by the commands that run it, not by every `silo` command
    from silo.records import RunConfig
    from silo.runner import RunDir

EXIT_ERRORS = 1  # episodes errored beyond --fail-on-error
EXIT_STOPPED = 3  # a token or cost ceiling stopped the run
EXIT_REFUSED = 4  # an endpoint cannot serve the run (rejected key, unknown model, exhausted quota): stopped


def _print_report(scores, rd: RunDir, by: list[str] | None = None) -> None:
    from silo.report import summary, to_markdown, to_terminal

    table = summary(scores, by)
    click.echo(to_terminal(table))
    (rd.path / "report.md").write_text("# silo report (summary)\n\n" + to_markdown(table)
                                       + f"\nFull report with intervals, plots and failure explanations: "
                                         f"`silo report {rd.path}`\n")
    click.echo(f"\nreport: {rd.path / 'report.md'}; full report with plots: silo report {rd.path}", err=True)


@click.command()
@click.option("--suite", default=None, help="Suite name (tasks/NAME.toml) or path; options below override it.")
@click.option("--task", "task_list", default="I-01,I-07,II-11,II-14,III-21,III-23", show_default=True,
              help="Comma-separated task ids or slugs, or 'all'.")
@click.option("--n", "ns", default="1,2,5", show_default=True, help="Comma-separated N values.")
@click.option("--protocol", "protocols", default="p2p,broadcast,sfs", show_default=True)
@click.option("--team", "teams", default="llm", show_default=True,
              help="Comma-separated: llm, or scripted reference teams: oracle, gossip, premature, "
                   "smalltalk, miscompute, silent, chatty.")
@click.option("--model", default=None, help=f"litellm model for every agent (default {DEFAULT_MODEL}, embedded).")
@click.option("--models", default=None, help="Heterogeneous team: comma-separated models cycled over agent ids.")
@click.option("--api-base", "api_bases", multiple=True,
              help="Base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama); MODEL=URL for one model "
                   "only (repeatable).")
@click.option("--api-key-env", "api_key_envs", multiple=True,
              help="Name of the environment variable holding the API key; MODEL=VAR for one model only (repeatable).")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Argument passed through to litellm with every call (value parsed as JSON if it can be), "
                   "e.g. -M top_p=0.9 -M reasoning_effort=low (repeatable).")
@click.option("--max-connections", "max_connections", multiple=True,
              help="Concurrent requests per model endpoint (default 8; the embedded server: its slots); "
                   "MODEL=N for one model only.")
@click.option("--prompt-variant", "variants", default="neutral", show_default=True,
              help="Comma-separated: neutral, plan, reminder, scratchpad, hints.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature (default: the model's).")
@click.option("--max-tokens", type=int, default=512, show_default=True, help="Max output tokens per model call.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the model-call cache.")
@click.option("--seed", default=0, show_default=True)
@click.option("--replicates", default=1, show_default=True)
@click.option("--max-rounds", default=100, show_default=True)
@click.option("--action-budget", default=10, show_default=True)
@click.option("--concurrency", default=4, show_default=True, help="Episodes run at once.")
@click.option("--max-total-tokens", type=int, default=None, help="Run-level token ceiling (input + output).")
@click.option("--max-cost", type=float, default=None, help="Run-level cost ceiling in USD.")
@click.option("--force", is_flag=True, help="Re-run episodes already completed in the run directory.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many episodes per task (the first ones of the sweep order).")
@click.option("--shard", default=None, help="Run only slice i/K of the sweep (join slices with `silo merge`).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (with --executor ray; default: local Ray).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--no-preflight", is_flag=True, help="Skip the check of every model endpoint before the first episode.")
@click.option("--fail-on-error", default="0", show_default=True,
              help="Exit 1 when errored episodes exceed this: 0 = any, a fraction (0.1) or a count (5).")
@click.option("--no-fail-on-error", is_flag=True, help="Exit 0 whatever the number of errored episodes.")
@click.option("--instances", default=None,
              help="Run on instances from a published dataset (folder or hub id) instead of generating them.")
@click.option("--matched", "matched", type=click.Path(file_okay=False), default=None,
              help="Compute-matched N = 1 baseline of the LLM team run in this directory: one single agent per "
                   "team episode, stopped when its tokens reach that episode's total (docs/probes.md).")
@click.option("-o", "--out", type=click.Path(file_okay=False), default="runs/latest", show_default=True)
@click.pass_context
def run(ctx, suite, **opts):
    """Run tasks x N x protocol x team into a run directory, then score and report it.

    Re-running into the same directory resumes: completed episodes are skipped, errored ones retried.
    """
    from silo import validate
    from silo.results import parse_threshold
    from silo.runner import RunDir, shard_slice
    from silo.suite import episode_specs

    validate.run_options({**opts, "suite": suite})
    rc = _run_config(ctx, suite, opts)
    if opts["instances"]:
        rc = _with_instances(ctx, rc, opts)
    rc = validate.run_config(rc)
    validate.cost_ceiling(rc, opts["max_cost"])
    specs = shard_slice(episode_specs(rc), opts["shard"])
    threshold = None if opts["no_fail_on_error"] else parse_threshold(opts["fail_on_error"])
    if not opts["no_preflight"]:
        _preflight(rc)
    rd = RunDir(opts["out"])
    rd.init(rc, shard=opts["shard"], force=opts["force"])
    _execute(specs, rd, {**opts, "threshold": threshold, "rc": rc})


def _preflight(rc: RunConfig) -> None:
    """One cheap check per model endpoint; stops with one line naming the variable or URL."""
    from silo.preflight import check_run

    for note in check_run(rc):
        click.echo(f"warning: {note}", err=True)


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--concurrency", default=4, show_default=True)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None)
@click.option("--max-total-tokens", type=int, default=None)
@click.option("--max-cost", type=float, default=None)
@click.option("--no-progress", is_flag=True)
@click.option("--no-preflight", is_flag=True, help="Skip the check of every model endpoint.")
@click.option("--fail-on-error", default="0", show_default=True,
              help="Exit 1 when errored episodes exceed this: 0 = any, a fraction (0.1) or a count (5).")
@click.option("--no-fail-on-error", is_flag=True, help="Exit 0 whatever the number of errored episodes.")
def resume(run_dir, **opts):
    """Resume a run directory with its saved config (skips completed, retries errored episodes)."""
    from silo import validate
    from silo.results import parse_threshold
    from silo.runner import RunDir, RunDirError, shard_slice
    from silo.suite import episode_specs

    rd = RunDir(run_dir)
    rc = rd.saved_config()
    if rc is None:
        raise RunDirError(f"no run config in {run_dir}: not a run directory")
    shard = json.loads((rd.path / "config.json").read_text()).get("shard")
    validate.run_options(opts)
    validate.cost_ceiling(rc, opts["max_cost"])
    threshold = None if opts["no_fail_on_error"] else parse_threshold(opts["fail_on_error"])
    if not opts["no_preflight"]:
        _preflight(rc)
    rd.reopen()  # lock, clean up after dead writers, move damaged episode files aside
    _execute(shard_slice(episode_specs(rc), shard), rd, {**opts, "force": False, "threshold": threshold, "rc": rc,
                                                  "shard": shard})


def _with_instances(ctx: click.Context, rc: RunConfig, o: dict) -> RunConfig:
    """Run on published instances: all of them unless --task / --n narrow the set."""
    from silo.publish import load_instances

    insts = load_instances(o["instances"])
    if not insts:
        raise ValueError(f"no instances in {o['instances']}")
    default = click.core.ParameterSource.DEFAULT
    tasks = rc.tasks if ctx.get_parameter_source("task_list") != default else sorted({i.task for i in insts})
    ns = rc.n_agents if ctx.get_parameter_source("ns") != default else sorted({i.n_agents for i in insts})
    extra = {**rc.extra, "instances_source": o["instances"]}
    return rc.model_copy(update={"tasks": tasks, "n_agents": ns, "extra": extra})


def _execute(specs, rd: RunDir, opts: dict) -> None:
    import asyncio

    from silo.progress import instrumented, quiet_retries
    from silo.runner import Budget, pending, prior_usage, run_specs, score_run

    todo, skipped = pending(specs, rd, opts["force"])
    budget = Budget(opts["max_total_tokens"], opts["max_cost"], prior_usage(rd, {s.id for s in specs}))
    click.echo(f"{len(specs)} episodes in {rd.path}: {skipped} done, {len(todo)} to run", err=True)
    with quiet_retries():  # retry warnings go into the progress bar (and the episode log), not the terminal
        if opts["executor"] == "ray":
            from silo.executor_ray import run_ray

            outcome = run_ray(todo, rd, address=opts["address"], budget=budget, progress=not opts["no_progress"])
        else:
            outcome = asyncio.run(run_specs(todo, rd, factory=instrumented(), concurrency=opts["concurrency"],
                                            budget=budget, progress=not opts["no_progress"]))
    scores = score_run(rd)
    _print_report(scores, rd)
    _finish(rd, scores, specs, opts, outcome)


def _finish(rd: RunDir, scores, specs, opts: dict, outcome) -> None:
    """results.json, each distinct error cause once with its count, and an honest exit status."""
    from silo.results import error_causes, too_many_errors, write_results

    ids = {s.id for s in specs}
    mine = [s for s in scores if s.episode_id in ids]
    write_results(rd, opts["rc"], scores, shard=opts.get("shard"))
    causes = error_causes(mine)
    errors = sum(n for _, n in causes)
    if errors:
        click.echo(f"{errors} of {len(specs)} episode(s) ended in error (excluded from accuracy); causes:", err=True)
        for text, n in causes:
            click.echo(f"  {n:5} x {text}", err=True)
        click.echo(f"re-run `silo resume {rd.path}` to retry them", err=True)
    if outcome.stopped and outcome.fatal:
        click.echo(f"stopped: {outcome.stopped}; no further episode was started: fix it, then "
                   f"`silo resume {rd.path}`", err=True)
        sys.exit(EXIT_REFUSED)
    if outcome.stopped:
        click.echo(f"stopped: {outcome.stopped}; the run is resumable: `silo resume {rd.path}` "
                   "with a higher ceiling", err=True)
        sys.exit(EXIT_STOPPED)
    if too_many_errors(errors, len(specs), opts.get("threshold")):
        click.echo(f"error: {errors} of {len(specs)} episodes errored (--fail-on-error {opts['fail_on_error']}; "
                   "--no-fail-on-error to exit 0)", err=True)
        sys.exit(EXIT_ERRORS)


def _run_config(ctx: click.Context, suite: str | None, o: dict) -> RunConfig:
    """Suite values (or a matched run's: its team run's), overridden by options the user set explicitly."""
    from silo.records import RunConfig
    from silo.suite import load_suite
    from silo.tasks import all_tasks

    base = load_suite(suite) if suite else None
    if o.get("matched"):
        base = _matched_base(ctx, suite, o)

    def given(name: str) -> bool:
        return base is None or ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT

    fields: dict = base.model_dump() if base else {}
    if given("task_list"):
        fields["tasks"] = [t.id for t in all_tasks()] if o["task_list"] == "all" else _csv(o["task_list"])
    simple = {"ns": ("n_agents", _ints), "protocols": ("protocols", _csv), "teams": ("teams", _csv),
              "variants": ("prompt_variants", _csv), "seed": ("seed", int), "replicates": ("replicates", int),
              "max_rounds": ("max_rounds", int), "action_budget": ("action_budget", int)}
    for opt, (field, conv) in simple.items():
        if given(opt):
            fields[field] = conv(o[opt])
    models = _csv(o["models"]) if o["models"] else [o["model"]] if o["model"] else fields.get("models")
    fields["models"] = models or [DEFAULT_MODEL]
    extra = dict(fields.get("extra") or {})
    for key in ("temperature", "max_tokens"):
        if o[key] is not None and (given(key) or key not in extra):
            extra[key] = o[key]
    _endpoint_options(extra, o)
    if o["limit"]:
        extra["limit"] = o["limit"]
    extra["cache"] = not o["no_cache"]
    fields["extra"] = extra
    return RunConfig(**fields)


def _matched_base(ctx: click.Context, suite: str | None, o: dict) -> RunConfig:
    """--matched: the team run's config at N = 1; what to run comes from the team run, not from options."""
    from silo.matched import matched_config

    if suite:
        raise click.UsageError("--matched takes its sweep from the team run: drop --suite")
    fixed = {"--task": "task_list", "--n": "ns", "--protocol": "protocols", "--team": "teams",
             "--instances": "instances", "--replicates": "replicates", "--seed": "seed", "--prompt-variant": "variants"}
    for flag, name in fixed.items():
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--matched takes tasks, N, protocols, replicates, seed and prompts from the "
                                   f"team run: drop {flag}")
    return matched_config(o["matched"])


def _endpoint_options(extra: dict, o: dict) -> None:
    """--api-base / --api-key-env / --max-connections (global or MODEL=value) and -M into the run's options."""
    per_model = {m: dict(v) for m, v in (extra.get("per_model") or {}).items()}
    for opt, key, conv in (("api_bases", "api_base", str), ("api_key_envs", "api_key_env", str),
                           ("max_connections", "concurrency", _positive)):
        for raw in o[opt]:
            model, value = _split_model(raw)
            if model is None:
                extra[key] = conv(value)
            else:
                per_model.setdefault(model, {})[key] = conv(value)
    if per_model:
        extra["per_model"] = per_model
    if o["model_args"]:
        extra["model_args"] = {**(extra.get("model_args") or {}), **dict(_model_arg(a) for a in o["model_args"])}


def _split_model(raw: str) -> tuple[str | None, str]:
    """'MODEL=value' -> (MODEL, value); a plain value (a URL may hold '=' in its query) -> (None, value)."""
    head, sep, rest = raw.partition("=")
    if not sep or "://" in head or not head.strip():
        return None, raw.strip()
    return head.strip(), rest.strip()


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(f"--max-connections takes a positive integer, got {value!r}")
    return n


def _model_arg(raw: str) -> tuple[str, object]:
    """-M key=value; the value is JSON when it parses (numbers, true, lists), else the string."""
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"-M takes KEY=VALUE, got {raw!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


@click.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.argument("sources", nargs=-1, required=True, type=click.Path(file_okay=False))
def merge(out, sources):
    """Join run directories of shard slices (`--shard i/K`) into OUT, then score it."""
    from silo.rundir import merge_runs
    from silo.runner import RunDir, score_run

    rd = RunDir(out)
    n = merge_runs(rd, [RunDir(s) for s in sources])
    scores = score_run(rd)
    click.echo(f"merged {n} episode files from {len(sources)} runs into {out}; {len(scores)} episodes scored")
