"""The static HTML viewer: checked as rendered by headless Chromium, not as HTML source."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from silo.cli import main
from silo.episode import run_episode, run_sync
from silo.records import Action, Episode, EpisodeConfig, Event
from silo.runner import RunDir
from silo.tasks import get_task
from silo.viewer import build_view, write_viewer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '</script><img id="pwn" src=x onerror="document.body.dataset.pwned=1">'
SECRET = "sk-PLANTED-viewer-77c1d2e3f4"
PAGE_ERRORS: list[str] = []


def _browser_or_skip():
    """Playwright's Chromium on Debian's binary; missing is a failure in CI and a skip elsewhere."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path and sync_playwright:
        return path, sync_playwright
    msg = ("viewer test needs Debian's chromium and the playwright package: "
           "`apt-get update && apt-get install -y chromium` and `pip install playwright`")
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A scripted run with a hostile message planted in one episode, and its viewer written via the CLI."""
    out = tmp_path_factory.mktemp("view") / "run"
    res = CliRunner().invoke(main, ["run", "--team", "oracle,premature,silent", "--task", "I-01", "--n", "1,2,3",
                                    "--max-rounds", "6", "--no-progress", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ep = _find(out, "-n3-", "-p2p-oracle-")
    ep.events.append(Event(round=ep.rounds, agent=1, kind="note", data={"text": HOSTILE + " " + SECRET}))
    RunDir(out).write_episode(ep)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", SECRET)
        res = CliRunner().invoke(main, ["view", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def browser():
    path, sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


def _open(browser, url: str):
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    pg.on("pageerror", lambda e: PAGE_ERRORS.append(str(e)))
    pg.goto(url)
    return pg


@pytest.fixture(scope="module")
def page(run, browser):
    pg = _open(browser, (run / "viewer.html").as_uri())
    yield pg
    pg.close()


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory):
    """A recorded run of the embedded model (tests/data/llm_run: I-01, N = 2, p2p, 3 rounds), copied."""
    out = tmp_path_factory.mktemp("llm") / "llm_run"
    shutil.copytree(Path(__file__).parent / "data" / "llm_run", out)
    return out


@pytest.fixture(scope="module")
def multi(run, llm_run, browser):
    """One page over two runs: the scripted run and the embedded model's run."""
    res = CliRunner().invoke(main, ["view", str(run), str(llm_run), "-o", str(run.parent / "both.html")])
    assert res.exit_code == 0, res.output
    pg = _open(browser, (run.parent / "both.html").as_uri())
    yield pg
    pg.close()


def _episodes(run: Path) -> list[dict]:
    """Every episode of a run as plain JSON values, read through the run directory (either file format)."""
    return [ep.model_dump(mode="json", exclude_none=True) for ep in RunDir(run).episodes()]


def _find(run: Path, *parts: str) -> Episode:
    return next(ep for ep in RunDir(run).episodes() if all(p in ep.id for p in parts))


def test_episodes_are_listed(run, page):
    assert PAGE_ERRORS == []
    assert page.locator("tr.ep-row").count() == len(_episodes(run))
    assert page.locator("#count").inner_text() == f"showing {len(_episodes(run))} of {len(_episodes(run))} episodes"


def test_filters_narrow_the_list(run, page):
    eps = _episodes(run)
    page.select_option("#f-protocol", "p2p")
    want = sum(e["config"]["protocol"] == "p2p" for e in eps)
    assert page.locator("tr.ep-row").count() == want > 0
    assert set(page.locator("tr.ep-row td.protocol").all_inner_texts()) == {"p2p"}
    page.select_option("#f-protocol", "")
    page.select_option("#f-outcome", "ag:uninformed")  # by design only the premature team is uninformed
    assert set(page.locator("tr.ep-row td.team").all_inner_texts()) == {"premature"}
    page.select_option("#f-outcome", "ep:solved")
    shown = page.locator("tr.ep-row").evaluate_all("els => els.map(e => e.dataset.id)")
    scores = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    assert sorted(shown) == sorted(s["episode_id"] for s in scores if s["solved"])
    page.select_option("#f-n", "3")
    assert page.locator("tr.ep-row").count() == sum(s["solved"] and s["n_agents"] == 3 for s in scores)
    page.select_option("#f-n", "")
    page.select_option("#f-outcome", "")


def test_timeline_submissions_and_heatmap_of_an_episode(run, page):
    src = next(e for e in _episodes(run) if e["config"]["protocol"] == "p2p" and e["config"]["team"] == "oracle"
               and e["config"]["n_agents"] == 3)
    page.locator(f'tr.ep-row[data-id="{src["id"]}"]').click()
    assert page.locator("#detail h2").inner_text() == src["id"]
    rounds = sorted({e["round"] for e in src["events"] if e["kind"] in ("send", "submit")})
    shown = [int(r) for r in page.locator("#timeline .round").evaluate_all("els => els.map(e => e.dataset.round)")]
    assert set(rounds) <= set(shown)
    sends = [e for e in src["events"] if e["kind"] == "send"]
    assert page.locator("#timeline .ev-send").count() == len(sends)
    assert sends[0]["content"] in page.locator("#timeline").inner_text()
    assert page.locator("#timeline .ev-deliver").count() == 0  # hidden by default
    page.check("#show-deliver")
    assert page.locator("#timeline .ev-deliver").count() == sum(e["kind"] == "deliver" for e in src["events"])
    scores = next(json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines() if src["id"] in x)
    outcomes = page.locator("#agents tr.agent-row").evaluate_all("els => els.map(e => e.dataset.outcome)")
    assert outcomes == [a["outcome"] for a in scores["agents"]]
    cells = page.locator("#heat td.hc").evaluate_all("els => els.map(e => e.title)")
    assert len(cells) == 9
    # a deliver event lists what one receive delivered (msg_ids, senders); schema-1 logs: one msg_id, sender
    delivered = Counter((s, e["agent"]) for e in src["events"] if e["kind"] == "deliver"
                        for s in e.get("senders", [e.get("sender")]))
    assert sum(delivered.values()) > sum(e["kind"] == "deliver" for e in src["events"])  # batched per receive
    for title in cells:
        i, j, v = map(int, re.fullmatch(r"A(\d+) → A(\d+): (\d+)", title).groups())
        assert v == delivered[(i, j)]


def test_hostile_content_is_text_and_secrets_are_redacted(run, page):
    src = next(e for e in _episodes(run) if any(ev["kind"] == "note" for ev in e["events"]))
    page.goto((run / "viewer.html").as_uri() + "#" + src["id"])
    page.check("#show-action")
    assert "</script><img" in page.locator("#timeline").inner_text()
    assert page.locator("#pwn").count() == 0 and page.evaluate("document.body.dataset.pwned") is None
    html = (run / "viewer.html").read_text()
    assert SECRET not in html and "[REDACTED]" in page.locator("#timeline").inner_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "the page must not load anything"


def test_caps_keep_big_runs_small(run):
    long = "x" * 5000
    ep = _find(run, "-n3-", "-sfs-oracle-")
    ep.events += [Event(round=ep.rounds, agent=0, kind="note", data={"t": long}) for _ in range(300)]
    RunDir(run).write_episode(ep)
    view = build_view(run, max_content=50, max_events=120)
    d = view["details"][ep.id]
    assert len(d["events"]) == 120 and d["events_total"] > 300
    assert all(len(e["s"]) <= 50 + 20 and len(e["c"]) <= 50 + 20 for e in d["events"])
    small = write_viewer(run, run / "small.html", max_content=50, max_events=120).stat().st_size
    assert small < write_viewer(run, run / "big.html", max_content=6000, max_events=5000).stat().st_size


def test_view_bad_input(tmp_path):
    res = CliRunner().invoke(main, ["view", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_model_calls_show_what_was_sent_and_the_reply():
    from silo.viewer import event_view

    e = Event(round=2, agent=1, kind="model_call", data={
        "model": "m", "input_tokens": 5, "output_tokens": 3, "prefix_len": 2,
        "messages": [{"role": "user", "content": "Round 2 of at most 3."}],
        "response": {"content": '{"name": "wait"}', "tool_calls": None}})
    v = event_view(e, 2, 300)
    assert v["s"] == "m in 5 / out 3 tokens"
    assert v["c"] == 'sent: Round 2 of at most 3.\nreply: {"name": "wait"}'


def _llm_episode(llm_run: Path) -> Episode:
    return next(RunDir(llm_run).episodes())


def test_several_runs_in_one_page_with_a_run_filter(run, llm_run, multi):
    total = len(_episodes(run)) + 1
    assert multi.locator("tr.ep-row").count() == total
    assert multi.locator("#list th.run").is_visible()
    multi.select_option("#f-run", llm_run.name)
    assert multi.locator("tr.ep-row").count() == 1
    assert multi.locator("tr.ep-row td.team").inner_text() == "llm"
    multi.select_option("#f-run", run.name)
    assert multi.locator("tr.ep-row").count() == total - 1
    multi.select_option("#f-run", "")


def test_conversation_shows_private_data_system_prompt_and_every_reply(llm_run, multi):
    ep = _llm_episode(llm_run)
    multi.goto(multi.url.split("#")[0] + "#" + ep.id)
    conv = multi.locator("#conv")
    assert conv.count() == 1 and multi.locator("#conv details.conv").count() == ep.instance.n_agents
    for agent in range(ep.instance.n_agents):
        box = multi.locator(f'#conv details.conv[data-agent="{agent}"]')
        text = box.inner_text()
        # the agent's private data appears in its own system prompt, as the model saw it, not in the others'
        private = json.dumps(ep.instance.shards[agent].data[:3])[1:-1].replace('"', "")
        assert ep.instance.shards[agent].text[:40] in text
        system = box.locator(".msg.role-system pre").first
        assert system.is_visible() and f"You are agent {agent}" in system.inner_text()
        assert private.split(",")[0] in system.inner_text()
        # one reply per real (non warm-up) call, each as the model wrote it
        calls = [e for e in ep.events if e.kind == "model_call" and e.agent == agent]
        real = [e for e in calls if e.data.get("purpose") != "prefill"]
        assert box.locator(".msg.reply").count() == len(real)
        for e in real:
            reply = (e.data.get("response") or {}).get("content") or ""
            assert reply.strip()[:30] in text
        # the warm-up request is hidden by default, labelled when shown
        assert box.locator(".call.warmup").count() == 0
    multi.check("#show-warmup")
    warm = multi.locator(".call.warmup h5").all_inner_texts()
    assert warm and all("warm-up request (max_tokens 1)" in w for w in warm)
    multi.uncheck("#show-warmup")


def test_long_content_is_folded_and_expands_on_click(llm_run, multi):
    ep = _llm_episode(llm_run)
    multi.goto(multi.url.split("#")[0] + "#" + ep.id)
    pre = multi.locator("#conv .msg.role-system pre.clamp").first
    folded = pre.bounding_box()["height"]
    pre.click()
    assert "open" in pre.get_attribute("class") and pre.bounding_box()["height"] > folded * 1.5


def test_scoring_reason_per_agent_and_nothing_clipped_at_1400px(llm_run, multi):
    ep = _llm_episode(llm_run)
    multi.goto(multi.url.split("#")[0] + "#" + ep.id)
    whys = multi.locator("#agents td.why").all_inner_texts()
    assert len(whys) == ep.instance.n_agents and all(len(w) > 10 for w in whys)
    clipped = multi.evaluate("""() => [...document.querySelectorAll('#list, #agents, #conv, #timeline')]
        .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth)
        .map(e => e.id)""")
    assert clipped == []
    assert multi.evaluate("document.documentElement.scrollWidth") <= 1400


def test_search_finds_episodes_by_conversation_text(llm_run, multi):
    ep = _llm_episode(llm_run)
    needle = ep.instance.shards[1].text.split(",")[1].strip()  # a value of agent 1's private data
    multi.fill("#search", needle)
    shown = multi.locator("tr.ep-row").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ep.id in shown and len(shown) < multi.evaluate("DATA.episodes.length")
    multi.fill("#search", "no-such-text-anywhere-42")
    assert multi.locator("tr.ep-row").count() == 0
    multi.fill("#search", "")


class _LateBroadcaster:
    """Agent 0 submits in round 1; the others broadcast in rounds 1 and 2, then submit."""

    def __init__(self, me):
        self.me = me

    async def take_turn(self, turn):
        if self.me == 0:
            turn.do(Action(name="submit_result", args={"answer": 0}))
            return
        turn.do(Action(name="broadcast_message", args={"content": f"hello from {self.me}"}))
        if turn.round == 2:
            turn.do(Action(name="submit_result", args={"answer": 0}))
        turn.do(Action(name="wait"))


@pytest.fixture(scope="module")
def departed_page(tmp_path_factory, browser):
    """The viewer of a one-episode run in which three agents broadcast after agent 0 had submitted."""
    inst = get_task("I-01").make_instance(4, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=4, protocol="broadcast", team="llm", max_rounds=3)
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        ep = pool.submit(lambda: run_sync(run_episode(inst, cfg, [_LateBroadcaster(a) for a in range(4)]))).result()
    rd = RunDir(tmp_path_factory.mktemp("departed") / "run")
    rd.episodes_dir.mkdir(parents=True)
    rd.write_episode(ep)
    pg = _open(browser, write_viewer(rd.path).as_uri() + "#" + ep.id)
    yield ep, pg
    pg.close()


def test_sends_to_departed_agents_are_shown_per_agent_and_per_message(departed_page):
    ep, pg = departed_page
    left = {s.agent: s.round for s in ep.submissions}  # counted here from the log, not by silo.departed
    lost = [(e.agent, e.round, [k for k in e.to if k in left and left[k] < e.round])
            for e in ep.events if e.kind == "send"]
    want = [sum(len(g) for a, _, g in lost if a == agent) for agent in range(4)]
    assert want == [0, 1, 1, 1]  # the round-2 broadcasts of agents 1-3 each miss agent 0
    rows = pg.locator("#agents tr.agent-row")
    assert [int(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.departed)")] == want
    assert [t.strip() for t in pg.locator("#agents small.departed").all_inner_texts()] == ["1 sent to departed"] * 3
    kv = pg.locator("#detail .kv > span", has=pg.locator("b", has_text="sends to departed"))
    assert kv.inner_text().split("departed")[-1].strip() == "3"
    notes = pg.locator("#timeline .ev-send .gone")
    assert notes.count() == sum(1 for *_, g in lost if g) == 3
    assert notes.evaluate_all("els => els.map(e => e.dataset.gone)") == ["0", "0", "0"]
    assert all("never read by A0" in t for t in notes.all_inner_texts())
    rounds = notes.evaluate_all("els => els.map(e => e.closest('.round').dataset.round)")
    assert rounds == ["2", "2", "2"] and PAGE_ERRORS == []


class _Narrated:
    """A scripted oracle agent that also logs, each round, a model call in silo.agents.llm_agent's record
    format (docs/llm.md: prefix_len + messages), as if a model had chosen its actions."""

    def __init__(self, inner, me: int, shard: str):
        self.inner, self.me, self.shard, self.full = inner, me, shard, []

    async def take_turn(self, turn):
        new = ([{"role": "system", "content": f"You are agent {self.me}. Your private data: {self.shard}"}]
               if not self.full else [{"role": "assistant", "content": self.full[-1]["reply"]}])
        new.append({"role": "user", "content": f"Round {turn.round}: act."})
        reply = f"agent {self.me} acts in round {turn.round}"
        turn.log(Event(round=turn.round, agent=self.me, kind="model_call", data={
            "model": "narrator", "call": len(self.full) + 1, "purpose": "act", "prefix_len": 2 * len(self.full),
            "messages": new, "response": {"content": reply, "tool_calls": None}, "input_tokens": 9,
            "output_tokens": 5}))
        self.full.append({"reply": reply})
        await self.inner.take_turn(turn)


@pytest.fixture(scope="module")
def big_page(tmp_path_factory, browser):
    """The viewer of one N = 150 star-reduce episode over p2p whose agents log a model call every round."""
    from silo.agents.scripted import scripted_team

    n = 150
    inst = get_task("I-01").make_instance(n, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol="p2p", team="llm", max_rounds=30)
    team = [_Narrated(a, k, inst.shards[k].text) for k, a in enumerate(scripted_team("oracle", inst, "p2p"))]
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        ep = pool.submit(lambda: run_sync(run_episode(inst, cfg, team))).result()
    rd = RunDir(tmp_path_factory.mktemp("big") / "run")
    rd.episodes_dir.mkdir(parents=True)
    rd.write_episode(ep)
    pg = _open(browser, write_viewer(rd.path).as_uri() + "#" + ep.id)
    pg.wait_for_selector("#detail h2")
    yield ep, pg
    pg.close()


def test_a_big_episode_renders_a_page_at_a_time(big_page):
    """N = 150: the page shows the detail with a bounded DOM (rendering everything would need the 22,500
    cells of the heatmap alone), and builds one agent's conversation when it is expanded."""
    ep, pg = big_page
    n = ep.instance.n_agents
    assert ep.status == "complete" and pg.locator("#detail h2").inner_text() == ep.id
    assert pg.evaluate("document.getElementsByTagName('*').length") < 6000 < n * n // 3
    # a page of agents, the rest on demand
    assert pg.locator("#agents tr.agent-row").count() == 100
    pg.locator("#detail button.more", has_text="agents").click()
    assert pg.locator("#agents tr.agent-row").count() == n
    # the heatmap is one canvas pixel per pair; hovering a cell names its count, counted here from the log
    delivered = Counter((s, e.agent) for e in ep.events if e.kind == "deliver" for s in e.senders)
    heat = pg.locator("canvas#heat")
    assert heat.evaluate("c => [c.width, c.height]") == [n, n]
    heat.scroll_into_view_if_needed()
    x, y, w, h = heat.evaluate("c => { const r = c.getBoundingClientRect(); "
                               "return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth, c.clientHeight]; }")
    assert w == h == 360 - 2  # drawn 360 px wide (border included), whatever N
    for i, j in [(7, 0), (0, 7), (7, 8)]:
        pg.mouse.move(x + (j + 0.5) * w / n, y + (i + 0.5) * h / n)
        assert heat.get_attribute("title") == f"A{i} → A{j}: {delivered[(i, j)]}"
    assert delivered[(7, 0)] == delivered[(0, 7)] == 1 and delivered[(7, 8)] == 0
    # conversations: folded and empty until expanded
    convs = pg.locator("#conv details.conv")
    assert convs.count() == 100 and pg.locator("#conv .call").count() == 0
    box7 = pg.locator('#conv details.conv[data-agent="7"]')
    box7.locator("summary").click()
    calls = [e for e in ep.events if e.kind == "model_call" and e.agent == 7]
    assert box7.locator(".msg.reply").count() == len(calls) > 1
    text = box7.inner_text()
    assert ep.instance.shards[7].text[:40] in text and "You are agent 7" in text
    assert all(e.data["response"]["content"] in text for e in calls)
    assert pg.locator("#conv .call").count() == len(calls)  # only agent 7's were built
    assert PAGE_ERRORS == []
