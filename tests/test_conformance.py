"""Every registered task x protocol x N: reference teams land in their designed outcome classes."""

import pytest

from silo.conformance import CONFORMANCE_N, EXPECTED, check_reference
from silo.tasks import all_tasks

CASES = [(t.id, p, n) for t in all_tasks() for p in ("p2p", "broadcast", "sfs") for n in CONFORMANCE_N
         if not (n == 1 and p != "p2p")]  # N = 1 has no protocol: run it once


@pytest.mark.parametrize("task,protocol,n", CASES, ids=[f"{t}-{p}-{n}" for t, p, n in CASES])
def test_reference_teams(task, protocol, n):
    problems = []
    for team in EXPECTED:
        problems += check_reference(task, protocol, n, team)
    assert not problems, "\n".join(problems)
