"""metrics.link_array_of, which sums the sends of one sender to one list of recipients before spreading them,
gives link_array(link_counts(ep)): the same sums, in the same order (the report's sidecar packs that order), as
summing the message rows one by one."""

from __future__ import annotations

import pytest

from silo import metrics
from silo.records import Episode, EpisodeConfig, Event
from silo.tasks import get_task


def _by_rows(ep) -> dict:
    """The definition: message_rows summed per (sender, receiver), keys in the order of their first row."""
    out: dict = {}
    for r in metrics.message_rows(ep):
        x = out.setdefault((r["sender"], r["receiver"]), [0, 0])
        x[0] += 1
        x[1] += r["chars"]
    return out


def _send(rnd, agent, to, chars):
    return Event(round=rnd, agent=agent, kind="send", action="send_message", to=to, content="x" * chars, chars=chars)


def _episode(events) -> Episode:
    inst = get_task("I-01").make_instance(4, 0)
    cfg = EpisodeConfig(task=inst.task, n_agents=4, protocol="p2p", team="llm")
    return Episode(id="hand", config=cfg, instance=inst, events=events, submissions=[], status="max_rounds", rounds=3)


def test_repeated_overlapping_and_odd_recipient_lists_keep_the_rows_order_and_sums():
    events = [
        Event(round=1, agent=3, kind="read", path="f", sender=2, chars=5),  # (2, 3) first, from a read
        _send(1, 2, [0, 1, 3], 7),  # a broadcast: (2, 0), (2, 1), then (2, 3) again
        _send(1, 1, [1, 0], 3),  # to itself: no row
        Event(round=1, agent=0, kind="write", path="f", version=0, content="abc", chars=3),
        _send(2, 2, [3], 11),  # a subset: (2, 3) from another list
        _send(2, 2, [0, 1, 3], 9),  # the broadcast's list again: summed with the first
        _send(2, 0, [2, 2], 4),  # a recipient listed twice: two rows
        _send(2, 0, None, 4), _send(2, 0, [], 4),  # no recipient: no row
        Event(round=2, agent=1, kind="read", path="g", sender=1, chars=8),  # its own file: no row
        Event(round=2, agent=1, kind="read", path="g", sender=None, chars=8),  # author unknown: no row
        Event(round=3, agent=0, kind="deliver", msg_ids=[0], senders=[2], chars=7),  # not a message row
        _send(3, 1, [0, 1], 6),  # the (1, [1, 0]) list's keys in another order: its own list
        Event(round=3, agent=0, kind="write", path="f", version=1, content="abcd", chars=4),
    ]
    ep = _episode(events)
    got = metrics.link_counts(ep)
    want = _by_rows(ep)
    assert list(got.items()) == list(want.items())
    _same_array(ep)
    assert got[(2, 3)] == [4, 5 + 7 + 11 + 9] and got[(0, 2)] == [2, 8] and got[(0, None)] == [2, 7]


@pytest.mark.parametrize("protocol", ["p2p", "broadcast", "sfs"])
def test_a_scripted_episode_gives_the_rows_sums(protocol):
    from silo.episode import run_episode, run_sync
    from silo.runner import default_team_factory

    inst = get_task("I-01").make_instance(5, 3)
    cfg = EpisodeConfig(task=inst.task, n_agents=5, protocol=protocol, team="gossip", max_rounds=12)
    ep = run_sync(run_episode(inst, cfg, default_team_factory(inst, cfg)))
    got = metrics.link_counts(ep)
    assert got and list(got.items()) == list(_by_rows(ep).items())
    _same_array(ep)


def _same_array(ep):
    from silo import links  # (the module link_array_of reads SMALL_LOG from; metrics re-exports it)

    a = metrics.link_array(metrics.link_counts(ep))
    for small in (0, links.SMALL_LOG, 1 << 30):  # numpy's way always, as chosen, link_counts' always
        try:
            links.SMALL_LOG, was = small, links.SMALL_LOG
            b = metrics.link_array_of(ep)
        finally:
            links.SMALL_LOG = was
        assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all()


@pytest.mark.parametrize("events", [
    [_send(1, a, [b for b in range(4) if b != a], 3 + a) for a in range(4)] * 2,  # a broadcast: no pair twice
    [_send(1, 0, [1], 2), _send(1, 1, [0], 3), _send(2, 0, [2], 4), _send(2, 3, [0], 1)],  # p2p: no pair twice
    [_send(1, 0, [1], 2), _send(1, 0, [1, 2], 3)],  # a pair from two recipient lists: summed
    [Event(round=r, agent=0, kind="write", path="f", version=r, content="ab", chars=2) for r in (1, 2)]])
def test_logs_with_and_without_a_pair_twice_give_the_same_array(events):
    _same_array(_episode(events))


@pytest.mark.parametrize("events", [[], [_send(1, 0, [0], 3)], [_send(1, -1, [2, 0], 1), _send(1, 3, [], 1)]])
def test_no_rows_or_odd_senders_give_the_same_array(events):
    _same_array(_episode(events))
