"""Reports, plots, `silo report` / `silo compare` and the leaderboard script on real scripted-team runs."""

import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from silo.analysis import filter_tables, load_runs
from silo.cli import main
from silo.report import display, summary, to_markdown, write_report
from silo.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
TEAMS = "oracle,gossip,premature,miscompute,silent"


def _run(out: Path, teams: str = TEAMS, tasks: str = "I-01,II-11", ns: str = "1,2,5") -> Path:
    res = CliRunner().invoke(main, ["run", "--team", teams, "--task", tasks, "--n", ns, "-o", str(out),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def ref_run(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("runs") / "ref")


def _leaderboard():
    spec = importlib.util.spec_from_file_location("leaderboard", ROOT / "scripts" / "leaderboard.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_display_collapses_intervals():
    df = pl.DataFrame({"team": ["a"], "episodes": [3], "S": [0.5], "S_lo": [0.25], "S_hi": [0.75],
                       "rounds": [4.0], "rounds_lo": [float("nan")], "rounds_hi": [float("nan")],
                       "solved": [0.5], "solved_lo": [0.1], "solved_hi": [0.9], "solved_n": [2]})
    d = display(df)
    assert d.columns == ["team", "n", "S", "rounds", "solved"]
    assert d.row(0) == ("a", "3", "50.0 [25.0, 75.0]", "4", "50.0 [10.0, 90.0] n=2")
    assert to_markdown(df).splitlines()[0] == "| team | n | S | rounds | solved |"


def test_reference_report_shows_designed_outcome_classes(ref_run, tmp_path):
    t = load_runs([ref_run])
    a = t.agents.filter(pl.col("n_agents") > 1)

    def classes(team):
        return set(a.filter(pl.col("team") == team).get_column("outcome"))

    assert classes("oracle") == {"correct"} and classes("gossip") == {"correct"}
    assert classes("miscompute") == {"integration_error"}
    assert classes("silent") == {"no_answer"}
    assert classes("premature") <= {"uninformed", "lucky", "correct"} and "uninformed" in classes("premature")
    # a premature agent is only correct-and-held when its answer depends on its own shard alone (prefix sum agent 0)
    early_right = a.filter((pl.col("team") == "premature") & (pl.col("outcome") == "correct"))
    assert set(early_right.get_column("agent")) <= {0} and set(early_right.get_column("task")) <= {"II-11"}
    md = write_report(t, tmp_path, plots=False).read_text()
    head = md.split("## Headline")[1].split("##")[0]
    oracle = next(line for line in head.splitlines() if line.startswith("| oracle "))
    assert "| 100.0 [" in oracle  # S = 100% with its interval
    fails = md.split("## Failures explained")[1]
    assert "| oracle |" not in fails and "| gossip |" not in fails
    assert "| miscompute | integration_error |" in fails and "| silent | no_answer |" in fails
    assert "held all the information it needed" in fails


def test_write_report_files_and_plots(ref_run, tmp_path):
    t = filter_tables(load_runs([ref_run]), team="oracle")  # one configuration keeps the plotting fast
    write_report(t, tmp_path)
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "gap_decomposition.png" in pngs and "protocol_level_heatmap.png" in pngs
    assert "s_p_h_vs_n.png" in pngs and any(p.startswith("comm_") for p in pngs)
    for p in tmp_path.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(pngs)  # self-contained: every plot embedded
    assert "http://" not in html and "https://" not in html
    md = (tmp_path / "report.md").read_text()
    assert all(f"]({p})" in md for p in pngs)
    assert pl.read_csv(tmp_path / "episodes.csv").height == t.episodes.height


def test_summary_keeps_run_command_contract(ref_run):
    from silo.runner import RunDir

    table = summary(RunDir(ref_run).scores(), ["team"])
    assert set(table.get_column("team")) == set(TEAMS.split(","))
    assert {"S", "S_lo", "S_hi", "episodes", "errors"} <= set(table.columns)


def test_cli_report_and_compare(ref_run, tmp_path):
    r = CliRunner().invoke(main, ["report", str(ref_run), "--by", "team", "--no-plots", "-o", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r" / "report.html").exists() and "oracle" in r.output
    r = CliRunner().invoke(main, ["compare", f"{ref_run}@team=oracle", f"{ref_run}@team=miscompute", "--by", "level"])
    assert r.exit_code == 0, r.output
    assert "mcnemar_p" in r.output
    r = CliRunner().invoke(main, ["compare", str(ref_run), f"{ref_run}@team=oracle"])
    assert r.exit_code == 2 and "several episodes" in r.output
    r = CliRunner().invoke(main, ["compare", f"{ref_run}@team", f"{ref_run}@team=oracle"])
    assert r.exit_code == 2 and "bad filter" in r.output
    tiny = _run(tmp_path / "tiny", teams="gossip", tasks="I-01", ns="1,3")
    eid = load_runs([tiny]).episodes.filter(pl.col("protocol") == "sfs").get_column("episode_id")[0]
    r = CliRunner().invoke(main, ["report", str(tiny), "--episode", eid])
    assert r.exit_code == 0, r.output
    comm = sorted(p.name for p in (tiny / "report").glob("comm_*.png"))
    assert len(comm) == 1 and "sfs" in comm[0]  # only the episode asked for
    r = CliRunner().invoke(main, ["report", str(tiny), "--episode", "nope"])
    assert r.exit_code == 2 and "nope" in r.output


def test_leaderboard_ties_and_incremental_merge(ref_run, tmp_path):
    lb = _leaderboard()
    files = ["--json", str(tmp_path / "lb.json"), "--md", str(tmp_path / "lb.md"), "--html", str(tmp_path / "lb.html")]
    assert lb.main([str(ref_run), *files]) == 0
    data = json.loads((tmp_path / "lb.json").read_text())
    assert [k for k, v in data.items() if isinstance(v, list)] == ["rows"]  # one table of rows (publish relies on it)
    rows = {(r["team"], r["protocol"]): r for r in data["rows"]}
    assert len(rows) == 5 * 4  # 5 teams x (3 protocols + 'all')
    assert rows[("oracle", "all")]["rank"] == rows[("gossip", "all")]["rank"] == 1  # equal S: a tie
    assert rows[("silent", "all")]["rank"] == rows[("miscompute", "all")]["rank"] > 1
    assert rows[("oracle", "all")]["S"]["value"] == 1.0 and rows[("oracle", "all")]["episodes"] == 12
    assert rows[("premature", "all")]["rcc"]["5"]["value"] > 0
    assert rows[("oracle", "all")]["grid"]["task_versions"] == {t: get_task(t).version for t in ("I-01", "II-11")}
    for r in data["rows"]:
        s = r["S"]
        assert s["lo"] <= s["value"] <= s["hi"]
    # a second run of the silent team on the same grid replaces its rows, the others are kept
    again = _run(tmp_path / "again", teams="silent")
    assert lb.main([str(again), *files]) == 0
    rows2 = {(r["team"], r["protocol"]): r for r in json.loads((tmp_path / "lb.json").read_text())["rows"]}
    assert len(rows2) == 20 and rows2[("silent", "p2p")]["sources"] == ["again"]
    assert rows2[("oracle", "p2p")]["sources"] == ["ref"]
    # a run on another grid (one task, N = 2) adds rows ranked on their own: alone there, rank 1
    other = _run(tmp_path / "other", teams="silent", tasks="I-01", ns="2")
    assert lb.main([str(other), *files]) == 0
    rows3 = json.loads((tmp_path / "lb.json").read_text())["rows"]
    small = [r for r in rows3 if r["grid"]["tasks"] == ["I-01"]]
    assert len(rows3) == 20 + len(small) and {r["sources"][0] for r in small} == {"other"}
    assert all(r["rank"] == 1 and r["episodes"] == (3 if r["protocol"] == "all" else 1) for r in small)
    big_silent = [r for r in rows3 if r["team"] == "silent" and r["protocol"] == "all" and len(r["grid"]["tasks"]) == 2]
    assert big_silent[0]["rank"] > 1  # still ranked against oracle and gossip on its own grid
    assert lb.main(["--render-only", *files]) == 0
    md = (tmp_path / "lb.md").read_text()
    limits = "100 rounds x 10 actions"  # the CLI defaults the runs used, read from their config.json
    big = f"## 2 tasks, N=2,5, {limits}, 1 replicate; protocol: all"
    small = f"## 1 task, N=2, {limits}, 1 replicate; protocol: all"
    assert md.index(big) < md.index(small)
    assert "| 1 | oracle |" in md
    assert '<table class="board">' in (tmp_path / "lb.html").read_text()


def test_committed_leaderboard_is_consistent():
    data = json.loads((ROOT / "data" / "leaderboard.json").read_text())
    full = [r for r in data["rows"] if len(r["grid"]["tasks"]) == 30]  # the reference grid
    rows = {(r["team"], r["protocol"]): r for r in full if not r["models"]}
    assert len(rows) == len([r for r in full if not r["models"]])  # one row per (team, protocol) on a grid
    for team in ("oracle", "gossip", "premature", "miscompute", "silent"):
        assert (team, "all") in rows, f"reference row of {team} missing"
    out = {t: rows[(t, "all")]["outcomes"] for t in ("oracle", "miscompute", "silent")}
    assert out["oracle"]["correct"] == 1.0 and out["miscompute"]["integration_error"] == 1.0
    assert out["silent"]["no_answer"] == 1.0
    assert rows[("oracle", "all")]["rank"] == 1
    # the embedded model's rows on the quick suite, ranked against the scripted teams on that grid
    quick = [r for r in data["rows"] if r["grid"]["tasks"] == ["I-01", "II-11", "III-21"] and r["protocol"] == "all"]
    llm = [r for r in quick if r["models"] == ["local/smollm2-135m"]]
    assert len(llm) == 1 and llm[0]["episodes"] > 0 and llm[0]["errors"] == 0
    assert {r["team"] for r in quick} >= {"llm", "oracle", "gossip"}
    assert min(r["rank"] for r in quick) == 1 and llm[0]["S"]["hi"] >= llm[0]["S"]["value"]


def test_report_survives_errors_and_missing_grains(tmp_path):
    from silo.analysis import build_tables
    from silo.metrics import aggregate
    from test_analysis import ep

    t = build_tables([ep("ok", ["correct", "uninformed"]), ep("bad", ["no_answer"] * 2, replicate=1, status="error"),
                      ep("solo", ["correct"], n=1, protocol="none", task="I-07")])
    md = write_report(t, tmp_path, plots=False).read_text()
    head = md.split("## Headline")[1].split("##")[0]
    assert "| t | 1 | 1 | 50.0 |" in head  # one scored episode, one errored (counted, not scored)
    empty = aggregate(t.episodes.filter(pl.col("n_agents") > 50), ["team"])
    assert empty.is_empty() and {"S", "S_lo", "solved_n"} <= set(empty.columns)
    only_n1 = build_tables([ep("solo", ["correct"], n=1, protocol="none")])
    assert "_(none)_" in write_report(only_n1, tmp_path / "n1").read_text()
    assert (tmp_path / "n1" / "s_p_h_vs_n.png").exists()


def test_guessable_tasks_are_flagged_only_when_present(tmp_path):
    """Default task versions are within the guessability budget, so a run of them has no section; a
    reference-pinned run (I-03@1: every shard's own majority is the global winner) is flagged, apart
    from the default I-03 run beside it."""
    from silo.report import _guess_rows
    from silo.tasks import all_tasks

    assert not [t.id for t in all_tasks() if _guess_rows([t.id])]
    run = _run(tmp_path / "g", teams="premature", tasks="I-03@1,I-03", ns="2")
    md = write_report(load_runs([run]), tmp_path / "rep", plots=False).read_text()
    section = md.split("## Guessable tasks", 1)[1].split("\n## ", 1)[0]
    assert "| I-03@1 |" in section and "| I-03 |" not in section
    run2 = _run(tmp_path / "c", teams="premature", tasks="I-03,I-01", ns="2")
    assert "Guessable tasks" not in write_report(load_runs([run2]), tmp_path / "rep2", plots=False).read_text()


def test_report_page_in_chromium_headline_first_provenance_warning_nothing_clipped(ref_run, tmp_path):
    """The HTML report as a researcher sees it at 1,400 px: headline first, provenance with a warning when
    the compared runs' limits differ, every table fits (or says it scrolls), plots with sentence captions."""
    from test_viewer import ARGS, _browser_or_skip

    short = _run(tmp_path / "short", teams="oracle,silent", tasks="I-01", ns="2")
    cfg = json.loads((short / "config.json").read_text())
    cfg["run"]["max_rounds"] = 4  # as if run with --max-rounds 4 beside the 100-round reference run
    (short / "config.json").write_text(json.dumps(cfg))
    r = CliRunner().invoke(main, ["report", str(ref_run), str(short), "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert "WARNING: the runs compared differ in: max_rounds: 100 (ref) vs 4 (short)" in r.output
    head = r.output.split("Headline by team configuration")[1]  # the last table printed: what stays on screen
    assert r.output.index("By level") < r.output.index("Headline") and "| " not in head
    assert {line.split()[0] for line in head.splitlines()[2:] if line.strip()} >= set(TEAMS.split(","))
    path, sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.goto((tmp_path / "rep" / "report.html").as_uri())
        assert pg.locator("h2").first.inner_text().startswith("Headline by team configuration")
        head = pg.locator("table").first
        assert [c.strip() for c in head.locator("th").all_inner_texts()] == ["config", "n", "errors", "S", "P", "H",
                                                                             "gap", "set apart"]
        # premature's prefix-sum agent 0 needs no one: it is set apart (one per II-11 episode at N >= 2)
        apart = {r.locator("td").first.inner_text(): int(r.locator("td").last.inner_text())
                 for r in head.locator("tbody tr").all()}
        assert apart["premature"] == 6 and apart["silent"] == 6
        assert set(head.locator("tbody td:first-child").all_inner_texts()) == set(TEAMS.split(","))
        warn = pg.locator(".warn")
        assert warn.is_visible() and "max_rounds: 100 (ref) vs 4 (short)" in warn.inner_text()
        prov = pg.locator("h2", has_text="Provenance").locator("xpath=following::table[1]").inner_text()
        assert "scorer_version" in prov and "git" in prov and "task_versions" in prov
        wide = pg.evaluate("""() => [...document.querySelectorAll('.tw')]
            .filter(w => w.scrollWidth > w.clientWidth + 1 && !w.classList.contains('scrolls')).length""")
        assert wide == 0 and pg.evaluate("document.documentElement.scrollWidth") <= 1400
        # S, P, H of the headline: percent with an interval that is never zero-width
        for row in head.locator("tbody tr").all():
            for cell in row.locator("td").all()[3:6]:
                value, ci = cell.inner_text().split("\n")
                lo, hi = (float(x) for x in ci.strip("[]").split(", "))
                assert lo <= float(value) <= hi <= 100 and lo < hi
        caps = pg.locator("figcaption").all_inner_texts()
        assert len(caps) == pg.locator("figure img").count() >= 3
        assert all(c.endswith(".") and len(c.split()) >= 8 for c in caps)
        browser.close()


def test_leaderboard_page_sorts_filters_links_and_keeps_reference_rows_apart(ref_run, tmp_path):
    from test_viewer import ARGS, _browser_or_skip

    lb = _leaderboard()
    files = ["--json", str(tmp_path / "lb.json"), "--md", str(tmp_path / "lb.md"), "--html", str(tmp_path / "lb.html")]
    assert lb.main([str(ref_run), *files]) == 0
    rows = json.loads((tmp_path / "lb.json").read_text())["rows"]
    md = (tmp_path / "lb.md").read_text()
    assert "Zhang et al. 2026" in md and "| DeepSeek-V3.1 |" in md
    path, sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.goto((tmp_path / "lb.html").as_uri())
        assert pg.locator("p a[href='metrics.md']").inner_text() == "metrics"  # the markdown link, rendered
        assert "[metrics](metrics.md)" not in pg.locator("body").inner_text()
        visible = pg.locator("tr.lb-row:visible")
        assert visible.count() == sum(r["protocol"] == "all" for r in rows)  # 'all' shown by default
        pg.select_option("#f-protocol", "p2p")
        assert set(visible.evaluate_all("els => els.map(e => e.dataset.protocol)")) == {"p2p"}
        pg.select_option("#f-protocol", "")
        assert visible.count() == len(rows)
        pg.fill("#f-text", "miscompute")
        assert set(visible.evaluate_all("els => els.map(e => e.dataset.team)")) == {"miscompute"}
        pg.fill("#f-text", "")
        pg.select_option("#f-protocol", "all")
        table = pg.locator("table.board").first
        heads = [h.strip(" ↕↑↓") for h in table.locator("th").all_inner_texts()]
        assert {"S L1", "S L2", "RCC", "n", "episodes"} <= set(heads)
        col = heads.index("S")
        for order in ("desc", "asc"):
            table.locator("th").nth(col).click()
            texts = table.locator(f"tbody tr:visible td:nth-child({col + 1})").all_inner_texts()
            vals = [float(t.split("\n")[0]) for t in texts]
            assert vals == sorted(vals, reverse=order == "desc") and len(set(vals)) > 1
        ranks = {r["team"]: r["rank"] for r in rows if r["protocol"] == "all"}
        shown = dict(zip(table.locator("tbody tr:visible td:nth-child(2)").all_inner_texts(),
                         map(int, table.locator("tbody tr:visible td:nth-child(1)").all_inner_texts()), strict=True))
        assert shown == ranks  # tie-aware ranks kept (oracle and gossip share rank 1)
        link = table.locator("tbody tr a").first.get_attribute("href")
        assert link.startswith("../runs/ref/viewer.html?team=")
        ref = pg.locator("#reference")
        assert "not reproduced here" in ref.inner_text() and ref.locator("tr.ref-row").count() == 3
        assert pg.locator("#reference tr.lb-row").count() == 0  # never ranked with silo's rows
        pg.uncheck("#f-ref")
        assert not ref.is_visible()
        wide = pg.evaluate("""() => [...document.querySelectorAll('.tw')]
            .filter(w => w.scrollWidth > w.clientWidth + 1 && !w.classList.contains('scrolls')).length""")
        assert wide == 0 and pg.evaluate("document.documentElement.scrollWidth") <= 1400
        browser.close()


def test_an_episode_without_messages_gets_no_heatmap_and_captions_are_sentences(ref_run, tmp_path):
    from silo import plots

    t = load_runs([ref_run])
    silent = t.episodes.filter((pl.col("team") == "silent") & (pl.col("n_agents") == 5)).get_column("episode_id")[0]
    talky = t.episodes.filter((pl.col("team") == "oracle") & (pl.col("n_agents") == 5)).get_column("episode_id")[0]
    out = plots.episode_heatmaps(t, tmp_path, [silent, talky])
    assert [p.name for p, _ in out] == [f"comm_{plots.slug(talky)}.png"]  # the all-zero panel is left out
    assert out[0][1].startswith(f"Who talked to whom in episode {talky}") and out[0][1].endswith(".")


def test_plots_drawn_in_the_worker_process_are_the_same_files(ref_run, tmp_path):
    # `silo report` of a big run draws its plots in a second process (report_plots): same PNGs, same pages
    from silo import report_plots

    t = load_runs([ref_run], messages=False)
    with report_plots.worker(True) as pool:
        assert pool is not None
        job = report_plots.start(pool, t, tmp_path / "worker", None)
        assert job is not None
        write_report(t, tmp_path / "worker", plots_job=job)
    write_report(t, tmp_path / "inline")
    pngs = sorted(p.name for p in (tmp_path / "inline").glob("*.png"))
    assert len(pngs) >= 4 and any(n.startswith("comm_") for n in pngs)  # standard plots and heatmaps
    assert sorted(p.name for p in (tmp_path / "worker").glob("*.png")) == pngs
    for name in [*pngs, "report.md", "report.html"]:
        assert (tmp_path / "worker" / name).read_bytes() == (tmp_path / "inline" / name).read_bytes(), name
