"""stat_sets of the tasks whose statistic adds up or merges (I-04, I-07, I-09, I-10, III-25): an unnamed combined
summary of some of an author's shards is found in every format the chatty team writes, while a wrong summary, a
paste of two shards with a gap between them, or one agent's own shard and partial credit no set beyond them.

The summaries are made by the chatty team's own bookkeeping (Semantics.merged: task.partial of the group's data
taken as one shard), not by the hooks under test."""

from __future__ import annotations

import random

import pytest

from silo.agents.chatty_text import STYLES, corrupt, render
from silo.agents.chatty_truth import Semantics
from silo.evidence import parse
from silo.tasks import get_task

TASKS = ("I-04", "I-07", "I-09", "I-10", "III-25")


def _credited(t, inst, text: str) -> list[frozenset[int]]:
    """The sets of 2+ shards a content's stat_sets proposes whose statistic then matches (author holds all)."""
    p = parse(text)
    within = frozenset(range(inst.n_agents))
    return [s for s in t.stat_sets(inst, p, within, 0)
            if (fp := t.stat_fingerprint(inst, s, 0)) is not None and fp.strict(p)]


@pytest.mark.parametrize("task_id", TASKS)
def test_unnamed_summary_found_and_nothing_else(task_id):
    t = get_task(task_id)
    found = tried = 0
    for seed in range(3):
        rng = random.Random(seed)
        inst = t.make_instance(6, seed)
        sem = Semantics(t, inst)
        for k in range(inst.n_agents - 2):
            group = frozenset({k, k + 1, k + 2}) if seed % 2 else frozenset({k, k + 1})
            value = sem.merged(group)
            assert value is not None
            for style in STYLES:
                tried += 1
                found += group in _credited(t, inst, f"Combined summary: {render(value, style, rng)}")
                wrong = _credited(t, inst, f"Combined summary: {render(corrupt(value, rng), style, rng)}")
                assert not wrong, (task_id, seed, style, wrong)
                gap = render(inst.shards[k + 2].data, style, rng) + "\n" + render(inst.shards[k].data, style, rng)
                assert all(s <= {k, k + 2} for s in _credited(t, inst, gap)), (task_id, seed, style)
                own = render(t.partial(inst.shards[k].data, k, inst.params), style, rng)
                assert not _credited(t, inst, inst.shards[k].text + "\n\n" + own), (task_id, seed, style)
    assert found == tried
