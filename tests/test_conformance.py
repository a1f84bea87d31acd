"""Every registered task x protocol x N: reference teams land in their designed outcome classes.

Larger N is opt-in (CI time): SILO_CONFORMANCE_N=200,500,1000 adds those N for every task and protocol
(select tasks with -k, e.g. `-k "I-01 or III-21"`); a cell at N = 1,000 takes minutes (gossip over p2p
is N^2 = 10^6 messages). Cells the reference teams cannot finish within R_max = 100 rounds by
design are left out (silo.conformance.rounds_needed, the rule of the structured conformance too):
chain tasks (oracle "chain": the carry passes agent to agent, a round each) past N = 100 (II-11 sfs at
N = 200 ran out of rounds at agent 100), and cells where one agent's single actions need more rounds
than there are: the oracle's star sends each agent its answer over p2p (N = 980 finishes in exactly 100
rounds, N = 990 ends at R_max with agents unanswered; docs/benchmarks.md, "Conformance at N = 200, 500,
1,000"), reads each partial file over sfs (from N = 979 on), and on a segmented task sends each agent
its own segment (over sfs it also reads N - 1 partials first: III-21 sfs from N = 491 on, N = 500 ends
at R_max; docs/benchmarks.md, "Session 12, helper B"); gossip sends or reads N - 1 times. So from
N = 981 on only broadcast of a global answer is run. test_rounds_needed_is_the_boundary runs the
reference teams at a small R_max on each side of the boundary the rule gives.
"""

import os

import pytest

from silo.conformance import CONFORMANCE_N, EXPECTED, check_reference, out_of_reach, rounds_needed, run_reference
from silo.tasks import all_tasks

EXTRA_N = tuple(int(x) for x in os.environ.get("SILO_CONFORMANCE_N", "").replace(",", " ").split())
CASES = [(t.id, p, n) for t in all_tasks() for p in ("p2p", "broadcast", "sfs") for n in CONFORMANCE_N
         if not (n == 1 and p != "p2p")]  # N = 1 has no protocol: run it once
CASES += [(t.id, p, n) for t in all_tasks() for p in ("p2p", "broadcast", "sfs") for n in EXTRA_N
          if n not in CONFORMANCE_N and out_of_reach(t.id, p, n) is None]


@pytest.mark.parametrize("task,protocol,n", CASES, ids=[f"{t}-{p}-{n}" for t, p, n in CASES])
def test_reference_teams(task, protocol, n):
    problems = []
    for team in EXPECTED:
        problems += check_reference(task, protocol, n, team)
    assert not problems, "\n".join(problems)


# (task, protocol, N, R_max) on each side of the boundary rounds_needed gives, at the default budget of 10
BOUNDARY = [("I-01", "p2p", 60, 8), ("I-01", "p2p", 61, 8),                      # star root: 2 + N / 10
            ("III-21", "sfs", 30, 8), ("III-21", "sfs", 31, 8),                  # read and write: 2 + 2N / 10
            ("I-01", "sfs+suff", 58, 8), ("I-01", "sfs+suff", 59, 8),            # 2 + (N + 2) / 10
            ("III-21", "broadcast+commit", 60, 8), ("III-21", "broadcast+commit", 61, 8),
            ("I-01", "p2p:star", 35, 8), ("I-01", "p2p:star", 36, 8),            # hub: (2N - 1) / 10 + 1
            ("I-01", "p2p:ring", 20, 11), ("I-01", "p2p:ring", 20, 10),          # diameter + 1
            ("II-11", "blackboard", 12, 12), ("II-11", "blackboard", 12, 11)]    # chain: N


@pytest.mark.parametrize("task,protocol,n,max_rounds", BOUNDARY, ids=[f"{t}-{p}-{n}-R{r}" for t, p, n, r in BOUNDARY])
def test_rounds_needed_is_the_boundary(task, protocol, n, max_rounds):
    fits = out_of_reach(task, protocol, n, max_rounds=max_rounds) is None
    status = {team: run_reference(task, protocol, n, team, max_rounds=max_rounds).status
              for team in ("oracle", "gossip")}
    assert all(s == "complete" for s in status.values()) == fits, (rounds_needed(task, protocol, n), status)
