"""Structured protocols: names, graphs (edges, non-neighbour errors, reach), blackboard CAS, commit, sufficiency."""

import asyncio

import pytest

from silo.agents.scripted import ScriptedAgent, scripted_team
from silo.episode import Turn, run_episode
from silo.protocols import UnknownProtocolError, protocol_class
from silo.protocols.graph import build_graph, graph_from_world
from silo.records import Action, EpisodeConfig, deliveries
from silo.runner import expand
from silo.scoring import Replay, score_episode
from silo.suite import load_suite
from silo.tasks import get_task


def _turn(proto, rnd, agent, budget=10):
    return Turn(rnd, agent, proto, budget, proto.specs())


def _episode(task, proto, n, team="gossip", **cfg):
    inst = get_task(task).make_instance(n, 0)
    config = EpisodeConfig(task=inst.task, n_agents=n, protocol=proto, team=team, **cfg)
    return asyncio.run(run_episode(inst, config, scripted_team(team, inst, proto)))


# ---- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,canonical", [
    ("p2p:ring", "p2p:ring"), ("P2P:Tree3", "p2p:tree3"), ("p2p:tree", "p2p:tree2"), ("blackboard", "blackboard"),
    ("bb", "blackboard"), ("broadcast+commit", "broadcast+commit"), ("sfs+suff+commit", "sfs+commit+suff"),
    ("p2p:grid+suff", "p2p:grid+suff"), ("bp+commit", "broadcast+commit"), ("p2p", "p2p"),
])
def test_protocol_names_resolve_to_canonical_classes(name, canonical):
    cls = protocol_class(name)
    assert cls.name == canonical and protocol_class(canonical) is cls


@pytest.mark.parametrize("name", ["p2p:hexagon", "broadcast:ring", "p2p+gossip", "p2p+commit+commit",
                                  "none+commit", "p2p:tree0", "", "tcp"])
def test_unknown_protocol_names_are_rejected_with_the_valid_ones(name):
    with pytest.raises(UnknownProtocolError) as e:
        protocol_class(name)
    msg = str(e.value)
    assert "ring, star, grid" in msg and "+commit" in msg and "blackboard" in msg


def test_structure_suite_keeps_full_protocol_names_in_episode_configs():
    rc = load_suite("structure")
    protos = {s.config.protocol for s in expand(rc)}
    assert {"p2p:ring", "p2p:tree3", "blackboard", "broadcast+commit", "sfs+suff"} <= protos
    assert protos >= {"p2p", "broadcast", "sfs"}  # the reference protocols are crossed in


# ---- graphs ------------------------------------------------------------------------------------
HAND = {  # edges written out by hand from the definitions in docs/structure.md
    ("ring", 5): {(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)},
    ("ring", 2): {(0, 1)},
    ("star", 4): {(0, 1), (0, 2), (0, 3)},
    ("tree3", 8): {(0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (1, 6), (2, 7)},
    ("tree2", 6): {(0, 1), (0, 2), (1, 3), (1, 4), (2, 5)},
    ("grid", 5): {(0, 1), (1, 2), (3, 4), (0, 3), (1, 4)},  # 2 rows x 3 cols, last row ragged
    ("grid", 10): {(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7), (8, 9),
                   (0, 4), (1, 5), (2, 6), (3, 7), (4, 8), (5, 9)},  # 3 rows x 4 cols
    ("grid", 3): {(0, 1), (1, 2)},
}


@pytest.mark.parametrize("topo,n", list(HAND))
def test_graph_edges_match_hand_written_definitions(topo, n):
    assert set(build_graph(topo, n).edges) == HAND[(topo, n)]


@pytest.mark.parametrize("topo", ["ring", "star", "tree3", "grid", "smallworld"])
def test_every_graph_is_connected_and_simple_for_every_n(topo):
    for n in range(1, 121):
        g = build_graph(topo, n)
        assert g.connected(), (topo, n)
        assert all(a not in g.neighbours(a) for a in range(n))
        assert all(a in g.neighbours(b) for a in range(n) for b in g.neighbours(a))


def test_smallworld_is_seeded_rewired_and_stable():
    g = build_graph("smallworld", 50)
    lattice = {tuple(sorted((i, (i + j) % 50))) for i in range(50) for j in (1, 2)}
    assert len(g.edges) == len(lattice) == 100  # rewiring moves edges, never adds or drops them
    assert set(g.edges) != lattice and len(set(g.edges) & lattice) > 50
    assert g.diameter() < build_graph("ring", 50).diameter() // 2  # the small-world shortcut effect
    build_graph.cache_clear()
    assert build_graph("smallworld", 50).edges == g.edges


def test_message_to_a_non_neighbour_is_an_error_and_logged():
    p = protocol_class("p2p:ring")(6)
    t = _turn(p, 1, 0)
    ok, msg = t.do(Action(name="send_message", args={"target_id": 3, "content": "x"}))
    assert not ok and "not your neighbour" in msg and "[1, 5]" in msg
    assert t.events[-1].kind == "error" and "not your neighbour" in t.events[-1].result
    assert t.do(Action(name="send_message", args={"target_id": 5, "content": "x"}))[0]
    assert t.do(Action(name="list_neighbors")) == (True, [1, 5])


def test_reach_never_crosses_a_non_edge_and_floods_one_hop_per_round():
    n, rounds = 10, 3
    ep = _episode("I-01", "p2p:ring", n, max_rounds=rounds)
    ring = {frozenset((i, (i + 1) % n)) for i in range(n)}  # independent of silo.protocols.graph
    delivered = {m: e.agent for e in ep.events if e.kind == "deliver" for m, _ in deliveries(e)}
    senders = {e.msg_id: e.agent for e in ep.events if e.kind == "send"}
    assert delivered and all(frozenset((senders[m], r)) in ring for m, r in delivered.items())
    rep = Replay(get_task("I-01"), ep.instance).run(ep.events)
    for i in range(n):  # shards sent in round 1 are one hop further out after each later round
        ball = {j for j in range(n) if min(abs(i - j), n - abs(i - j)) <= rounds - 1}
        assert rep.reach[i] == ball
    g = graph_from_world(ep.world)
    assert {frozenset(e) for e in g.edges} == ring and ep.world["graph"]["topology"] == "ring"


def _line_program(ctx):
    """Agent 0 sends one payload to agent 4 along a line; others relay, then everyone submits."""
    if ctx.me == 0:
        yield from ctx.send(4, "hello", 123)
    ctx.plan([(0, 4)])
    if ctx.me == 4:
        got = yield from ctx.collect("hello", {0})
        yield from ctx.submit(got[0])
    else:
        yield from ctx.submit(0)


def test_unicast_routes_hop_by_hop_and_relays_stay_until_forwarded():
    from silo.agents.channel import Ctx

    inst = get_task("I-01").make_instance(5, 0)
    agents = [ScriptedAgent(_line_program(Ctx(a, 5, "p2p:tree1", inst.shards[a].data, inst.params)))
              for a in range(5)]
    cfg = EpisodeConfig(task="I-01", n_agents=5, protocol="p2p:tree1", team="line", max_rounds=10)
    ep = asyncio.run(run_episode(inst, cfg, agents))
    subs = {s.agent: s for s in ep.submissions}
    assert ep.status == "complete" and subs[4].answer == 123
    assert [subs[a].round for a in range(1, 4)] == [2, 3, 4]  # each relay leaves right after forwarding
    hops = [(e.agent, e.to[0]) for e in ep.events if e.kind == "send"]
    assert hops == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_chain_on_a_tree_needs_relay_plans(monkeypatch):
    from silo.agents import scripted
    from silo.agents.channel import Ctx

    def chain_team(inst, proto):
        task = get_task(inst.task)
        return [ScriptedAgent(scripted._chain(task, Ctx(a, inst.n_agents, proto, inst.shards[a].data, inst.params)))
                for a in range(inst.n_agents)]

    inst = get_task("II-11").make_instance(7, 0)
    cfg = EpisodeConfig(task="II-11", n_agents=7, protocol="p2p:tree2", team="chain", max_rounds=40)
    ep = asyncio.run(run_episode(inst, cfg, chain_team(inst, "p2p:tree2")))
    s = score_episode(ep)
    assert ep.status == "complete" and all(a.correct and a.held for a in s.agents)
    monkeypatch.setattr(Ctx, "plan", lambda self, flows: None)  # relays may now leave early
    ep = asyncio.run(run_episode(inst, cfg, chain_team(inst, "p2p:tree2")))
    assert ep.status == "max_rounds"


# ---- blackboard --------------------------------------------------------------------------------
def _bb(n=3):
    return protocol_class("blackboard")(n)


def _do(p, rnd, agent, name, **args):
    t = _turn(p, rnd, agent)
    ok, res = t.do(Action(name=name, args=args))
    return ok, res, t.events


def test_blackboard_append_is_visible_next_round_with_author_round_and_history():
    p = _bb()
    ok, res, evs = _do(p, 1, 2, "append_entry", key="sum", type="partial", value=[1, 2, 3])
    assert ok and res["status"] == "pending" and evs[0].kind == "write" and evs[0].content == "[1, 2, 3]"
    assert _do(p, 1, 0, "read_entry", key="sum")[0] is False  # same round: not visible yet
    p.end_round(1)
    v1 = res["version"]
    _, res2, _ = _do(p, 2, 0, "append_entry", key="sum", type="partial", value=10)
    p.end_round(2)
    ok, head, evs = _do(p, 3, 1, "read_entry", key="sum")
    assert head == {"key": "sum", "version": res2["version"], "type": "partial", "author": 0, "round": 2,
                    "replaces": v1, "value": 10}
    assert evs[0].kind == "read" and evs[0].sender == 0 and evs[0].version == res2["version"]
    assert _do(p, 3, 1, "read_entry", key="sum", version=v1)[1]["value"] == [1, 2, 3]
    ok, hist, evs = _do(p, 3, 1, "entry_history", key="sum")
    assert [h["author"] for h in hist["versions"]] == [2, 0] and evs[0].kind == "list"
    ok, listing, _ = _do(p, 3, 1, "list_entries", prefix="s")
    assert listing["entries"][0]["count"] == 2 and listing["entries"][0]["version"] == res2["version"]


def test_stale_cas_fails_at_once_with_an_error_returned_and_logged():
    p = _bb()
    _, res, _ = _do(p, 1, 0, "cas_entry", key="acc", expected_version=0, type="partial", value=1)
    p.end_round(1)
    ok, msg, evs = _do(p, 2, 1, "cas_entry", key="acc", expected_version=0, type="partial", value=2)
    assert not ok and "stale" in msg and f"version {res['version']}" in msg
    assert evs[-1].kind == "error" and "stale" in evs[-1].result
    ok, res2, _ = _do(p, 2, 1, "cas_entry", key="acc", expected_version=res["version"], type="partial", value=2)
    assert ok
    p.end_round(2)
    assert _do(p, 3, 2, "read_entry", key="acc")[1]["value"] == 2


def test_concurrent_cas_in_one_round_lowest_agent_id_wins_and_losers_are_told():
    p = _bb()
    _do(p, 1, 0, "append_entry", key="acc", type="partial", value=0)
    p.end_round(1)
    v = _do(p, 2, 0, "read_entry", key="acc")[1]["version"]
    # agent 2 acts first in wall-clock order; the rule is agent-id order, so agent 1 must win
    ok2, r2, _ = _do(p, 2, 2, "cas_entry", key="acc", expected_version=v, type="partial", value=22)
    ok1, r1, _ = _do(p, 2, 1, "cas_entry", key="acc", expected_version=v, type="partial", value=11)
    assert ok1 and ok2  # both were fresh against the round-start version
    events = p.end_round(2)
    assert [(e.kind, e.agent, e.version) for e in events] == [("error", 2, r2["version"])]
    assert "stale" in events[0].result
    head = _do(p, 3, 0, "read_entry", key="acc")[1]
    assert head["value"] == 11 and head["author"] == 1 and head["replaces"] == v
    ok, res, _ = _do(p, 3, 2, "list_entries", prefix="")
    assert "stale" in res["notices"][0]  # told on its next blackboard action, once
    assert "notices" not in _do(p, 3, 2, "list_entries", prefix="")[1]


def test_an_append_earlier_in_agent_order_makes_a_same_round_cas_stale():
    p = _bb()
    _do(p, 1, 1, "cas_entry", key="k", expected_version=0, type="note", value="b")
    _do(p, 1, 0, "append_entry", key="k", type="note", value="a")
    events = p.end_round(1)
    assert [e.agent for e in events if e.kind == "error"] == [1]
    assert _do(p, 2, 2, "read_entry", key="k")[1]["value"] == "a"


@pytest.mark.parametrize("action,args,needle", [
    ("append_entry", {"key": "k", "type": "blob", "value": 1}, "unknown entry type 'blob'"),
    ("append_entry", {"key": " ", "type": "note", "value": 1}, "non-empty"),
    ("read_entry", {"key": "missing"}, "no such key"),
    ("cas_entry", {"key": "k", "expected_version": 3, "type": "note", "value": 1}, "does not exist"),
    ("entry_history", {"key": "missing"}, "no such key"),
])
def test_blackboard_bad_input_is_a_clear_error(action, args, needle):
    ok, msg, evs = _do(_bb(), 1, 0, action, **args)
    assert not ok and needle in msg and evs[-1].kind == "error"


def test_blackboard_reads_feed_the_scorers_reach():
    ep = _episode("I-01", "blackboard", 4, team="oracle")
    s = score_episode(ep)
    assert ep.status == "complete" and all(a.correct and a.held for a in s.agents)
    assert {e.kind for e in ep.events} >= {"write", "read", "list"}


# ---- commit ------------------------------------------------------------------------------------
def test_proposals_are_visible_next_round_and_delivered_once():
    p = protocol_class("broadcast+commit")(3)
    ok, res, evs = _do(p, 1, 0, "propose", answer="984")
    assert ok and evs[0].kind == "send" and evs[0].to == [1, 2]
    assert _do(p, 1, 1, "read_proposals")[1] == []
    p.end_round(1)
    ok, props, evs = _do(p, 2, 1, "read_proposals")
    assert props == [{"proposal_id": res["proposal_id"], "from": 0, "round": 1, "answer": 984}]
    assert [e.kind for e in evs] == ["action", "deliver"] and deliveries(evs[1]) == [(res["proposal_id"], 0)]
    assert [e.kind for e in _do(p, 2, 1, "read_proposals")[2]] == ["action"]  # already delivered
    _, bc, _ = _do(p, 2, 2, "broadcast_message", content="hi")
    assert bc["message_id"] != res["proposal_id"]  # one id space for messages and proposals


def test_submit_agrees_with_is_recorded_and_bad_ids_never_block_the_answer():
    p = protocol_class("p2p+commit")(3)
    t = _turn(p, 1, 0)
    ok, res = t.do(Action(name="propose", args={"answer": 1}))
    pid = res["proposal_id"]
    ok, _ = t.do(Action(name="submit_result", args={"answer": 1, "agrees_with": [str(pid)]}))  # quoted id
    assert ok and t.events[-1].args == {"answer": 1, "agrees_with": [pid]}
    t1 = _turn(p, 1, 1)
    ok, _ = t1.do(Action(name="submit_result", args={"answer": 2, "agrees_with": [7, pid]}))  # pid: not yet visible
    assert ok and t1.submission.answer == 2
    assert t1.events[-1].args == {"answer": 2, "agrees_with": [], "rejected_agrees_with": [7, pid]}
    t2 = _turn(p, 1, 2)
    assert t2.do(Action(name="submit_result", args={"answer": 2, "agrees_with": "all"}))[0]
    errors = [e for e in p.end_round(1) if e.kind == "error"]
    assert [(e.agent, e.args["agrees_with"]) for e in errors] == [(1, [7, pid]), (2, ["all"])]
    assert "the answer was submitted" in errors[0].result
    w = p.world_view()["commit"]["endorsements"]
    assert [(e["agent"], e["agrees_with"], e["consistent"]) for e in w] == [(0, [pid], True), (1, [], None),
                                                                             (2, [], None)]
    plain = _turn(protocol_class("p2p")(2), 1, 0)
    ok, msg = plain.do(Action(name="submit_result", args={"answer": 1, "agrees_with": []}))
    assert not ok and "exactly one argument" in msg  # without +commit nothing changes
    ok, msg = _turn(p, 2, 0).do(Action(name="submit_result", args={"agrees_with": [pid]}))
    assert not ok and "optionally ['agrees_with']" in msg


def test_agreement_round_needs_every_agent_to_endorse_one_value():
    p = protocol_class("sfs+commit")(3)
    _, r0, _ = _do(p, 1, 0, "propose", answer=[1, 2])
    p.end_round(1)
    _do(p, 2, 1, "propose", answer="[1, 2]")
    for a, agree in ((0, [r0["proposal_id"]]), (1, [r0["proposal_id"]])):
        assert _turn(p, 2, a).do(Action(name="submit_result", args={"answer": [1, 2], "agrees_with": agree}))[0]
    assert p.end_round(2) == []  # agent 2 has not committed yet
    r1 = next(x["proposal_id"] for x in _do(p, 3, 2, "read_proposals")[1] if x["from"] == 1)
    assert _turn(p, 3, 2).do(Action(name="submit_result", args={"answer": [1, 2], "agrees_with": [r1]}))[0]
    notes = p.end_round(3)
    assert [(e.kind, e.action, e.data["round"]) for e in notes] == [("note", "agreement", 3)]
    w = p.world_view()
    assert w["agreement_round"] == 3 and w["commit"]["max_support"] == 3
    assert w["commit"]["agreement"]["proposals"] == sorted([r0["proposal_id"], r1])


def test_commit_episode_records_agreement_and_offers_the_extended_submit_spec():
    ep = _episode("I-01", "broadcast+commit", 4, team="gossip")
    last = max(s.round for s in ep.submissions)
    assert ep.world["agreement_round"] == last
    assert any(e.kind == "note" and e.action == "agreement" for e in ep.events)
    bad = _episode("I-01", "broadcast+commit", 5, team="premature")
    assert bad.world["agreement_round"] is None and score_episode(bad).consensus_failure

    seen = {}

    class Probe:
        async def take_turn(self, turn):
            seen["submit"] = next(s for s in turn.specs if s.name == "submit_result")
            turn.do(Action(name="submit_result", args={"answer": 1}))

    inst = get_task("I-01").make_instance(2, 0)
    cfg = EpisodeConfig(task="I-01", n_agents=2, protocol="p2p:ring+commit", team="probe")
    asyncio.run(run_episode(inst, cfg, [Probe(), Probe()]))
    assert "agrees_with" in seen["submit"].parameters["properties"]


# ---- sufficiency -------------------------------------------------------------------------------
class _Script:
    """Runs a fixed list of actions per round and keeps every result."""

    def __init__(self, plan):
        self.plan, self.results = plan, {}

    async def take_turn(self, turn):
        for a in self.plan.get(turn.round, []):
            self.results.setdefault(turn.round, []).append(turn.do(a)[1])
        if not turn.done:
            turn.do(Action(name="wait"))


def test_check_reach_reports_the_scorers_reach_as_of_the_previous_round():
    cr, rcv = Action(name="check_reach"), Action(name="receive_messages")
    bc = Action(name="broadcast_message", args={"content": "my numbers"})
    sub = Action(name="submit_result", args={"answer": 0})
    agents = [_Script({1: [bc], 2: [sub]}),
              _Script({2: [rcv, cr], 3: [cr, sub]}),
              _Script({3: [cr, sub]})]
    inst = get_task("I-01").make_instance(3, 0)
    cfg = EpisodeConfig(task="I-01", n_agents=3, protocol="broadcast+suff", team="probe", max_rounds=3)
    ep = asyncio.run(run_episode(inst, cfg, agents))
    # agent 1 fetched agent 0's message in round 2: not counted until round 2 has ended
    assert agents[1].results[2][1]["reached"] == [1]
    assert agents[1].results[3][0]["reached"] == [0, 1] and agents[1].results[3][0]["as_of_round"] == 2
    assert agents[2].results[3][0]["reached"] == [2]  # never fetched anything
    assert agents[2].results[3][0]["not_reached"] == [0, 1]
    s = score_episode(ep)
    assert [a.reach for a in s.agents] == [pytest.approx(1 / 3), pytest.approx(2 / 3), pytest.approx(1 / 3)]


def test_check_reach_without_an_instance_is_an_error():
    p = protocol_class("p2p+suff")(2)
    ok, msg, evs = _do(p, 1, 0, "check_reach")
    assert not ok and "not bound" in msg
