"""score_files freezes what outlives each file (the collector never walks it again while scoring) and leaves the
collector as it found it: nothing frozen after, a caller's own frozen objects untouched, cycles still collected."""

import asyncio
import gc
import weakref

import pytest

from silo import episode_io
from silo.agents.scripted import scripted_team
from silo.episode import run_episode
from silo.records import EpisodeConfig
from silo.score_jobs import score_file, score_files
from silo.tasks import get_task


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("episodes")
    for task, n, protocol, team in [("I-01", 4, "broadcast", "oracle"), ("II-11", 3, "sfs", "gossip")]:
        inst = get_task(task).make_instance(n, 0)
        cfg = EpisodeConfig(task=inst.task, n_agents=n, protocol=protocol, team=team)
        episode_io.write(d, asyncio.run(run_episode(inst, cfg, scripted_team(team, inst, protocol))))
    return episode_io.files(d)


def _rows(scored):
    return sorted((r.path.name, r.score.model_dump_json(exclude={"usage"}), repr(r.facts)) for r in scored)


def test_rows_are_score_files_own_and_nothing_stays_frozen(files):
    assert gc.get_freeze_count() == 0
    seen = []
    for r in score_files(files, jobs=1):
        seen.append(gc.get_freeze_count())  # while scoring: the earlier files' survivors are frozen
        assert r.score is not None
    assert gc.get_freeze_count() == 0 and seen[-1] > 0
    assert _rows(score_files(files, jobs=1)) == _rows(map(score_file, files))


def test_a_callers_frozen_objects_are_left_frozen(files):
    probe = [object()]
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        rows = list(score_files(files, jobs=1))
        assert len(rows) == len(files)
        assert gc.get_freeze_count() <= before  # nothing more frozen (frozen objects freed meanwhile leave it)
        assert not any(o is probe for o in gc.get_objects())  # and the caller's are still frozen
    finally:
        gc.unfreeze()
    assert any(o is probe for o in gc.get_objects())


def test_a_cycle_frozen_while_scoring_is_collected_after(files):
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    list(score_files(files, jobs=1))  # the cycle, alive meanwhile, was frozen with the rest
    del a, b
    gc.collect()
    assert gone() is None  # unfrozen at the end: the collector frees it



def test_quick_exit_freezes_at_exit_only_once_registered():
    """`silo score`'s process freezes every object at exit (the final collections then walk none): the freeze
    happens at exit, not before, and a second call registers nothing more."""
    import subprocess
    import sys

    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('at exit', gc.get_freeze_count() > 0, flush=True))\n"  # runs last (LIFO)
            "from silo import score_jobs\n"
            "n = atexit._ncallbacks()\n"
            "score_jobs.quick_exit(); score_jobs.quick_exit()\n"
            "print('before', gc.get_freeze_count() > 0, atexit._ncallbacks() - n, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.splitlines() == ["before False 1", "at exit True"]
