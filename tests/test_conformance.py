"""Every registered task x protocol x N: reference teams land in their designed outcome classes.

Larger N is opt-in (CI time): SILO_CONFORMANCE_N=200,500,1000 adds those N for every task and protocol
(select tasks with -k, e.g. `-k "I-01 or III-21"`); a cell at N = 1,000 takes minutes (gossip over p2p
is N^2 = 10^6 messages). Chain tasks (oracle "chain": the carry passes agent to agent, N - 1 rounds)
are left out past N = 100: a chain of 200 cannot finish within R_max = 100 rounds (II-11 sfs at
N = 200 ran out of rounds at agent 100), as p2p:ring cannot in the structured conformance.
Past N = 980 a reference team that needs one agent to take N - 1 single actions cannot finish within
R_max x action_budget either: the oracle's star sends each agent its answer over p2p, reads each partial
file over sfs, sends each agent its own segment on a segmented task; gossip sends or reads N - 1 times.
So from N = 981 on only broadcast of a global answer is run (I-01 over p2p: N = 980 finishes in exactly
100 rounds, N = 990 ends at R_max with agents unanswered; docs/benchmarks.md, "Conformance at N = 200,
500, 1,000").
"""

import os

import pytest

from silo.conformance import CONFORMANCE_N, EXPECTED, check_reference
from silo.tasks import all_tasks

SINGLE_ACTIONS = 10 * (100 - 2)  # action_budget x (R_max - 2): one agent's actions between the first and last round


def _fits(task, protocol: str, n: int) -> bool:
    """Whether the reference teams can finish the cell within R_max rounds (see the module's docstring)."""
    return n - 1 < SINGLE_ACTIONS or (protocol == "broadcast" and task.answer_kind == "global")


EXTRA_N = tuple(int(x) for x in os.environ.get("SILO_CONFORMANCE_N", "").replace(",", " ").split())
CASES = [(t.id, p, n) for t in all_tasks() for p in ("p2p", "broadcast", "sfs") for n in CONFORMANCE_N
         if not (n == 1 and p != "p2p")]  # N = 1 has no protocol: run it once
CASES += [(t.id, p, n) for t in all_tasks() for p in ("p2p", "broadcast", "sfs") for n in EXTRA_N
          if n not in CONFORMANCE_N and not (t.oracle == "chain" and n > 100) and _fits(t, p, n)]


@pytest.mark.parametrize("task,protocol,n", CASES, ids=[f"{t}-{p}-{n}" for t, p, n in CASES])
def test_reference_teams(task, protocol, n):
    problems = []
    for team in EXPECTED:
        problems += check_reference(task, protocol, n, team)
    assert not problems, "\n".join(problems)
