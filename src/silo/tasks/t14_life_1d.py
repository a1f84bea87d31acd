"""II-14 1D life: 10 cells 0/1 per agent, synchronous steps of "exactly one of (left, self, right)"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from silo.evidence import AnyOf, Bits, Fingerprint, Parsed, answer_fingerprint, parse
from silo.tasks import register
from silo.tasks.base import TaskSpec, split_even
from silo.tasks.common import cut_like, span_text
from silo.tasks.t11_prefix_sum import bounds, check_list

# the joiners of a list in prose ("0, 1 and 1") and markdown cell bars ("| 0 |\n| 1 |"): read as commas in a 0/1 run
_JOINER = re.compile(r"\b(?:and|or|then)\b", re.IGNORECASE)


def life_steps(cells: list[int], steps: int) -> list[int]:
    """Evolve a row `steps` times: next = 1 iff exactly one of (left, self, right) is 1; outside is 0."""
    row = list(cells)
    for _ in range(steps):
        padded = [0, *row, 0]
        row = [int(padded[p] + padded[p + 1] + padded[p + 2] == 1) for p in range(len(row))]
    return row


# a table row led by its index: "| 3 | 1 |" or CSV "3,1" (the row may run on into a sentence: "9,1 Thanks")
_INDEXED = re.compile(r"^\s*\|?\s*(\d+)\s*[|,]\s*([01])(?![\d.])", re.MULTILINE)


@lru_cache(maxsize=50000)
def _bitruns(text: str) -> tuple[str, ...]:
    """The 0/1 rows of `text`, each in one piece: its 0/1 runs with prose joiners and table bars read as
    separators (a one-column table too), and the value column of tables with an index column (rows
    numbered 0, 1, 2, ...)."""
    runs = list(parse(_JOINER.sub(",", text).replace("|", ",")).bitruns)
    col, last = "", None
    for m in _INDEXED.finditer(text):
        k = int(m.group(1))
        if last is None or k != last + 1:
            if len(col) >= 3:
                runs.append(col)
            col = ""
        col, last = col + m.group(2), k
    if len(col) >= 3:
        runs.append(col)
    return tuple(runs)


def _distinct(row: list[int], c: int, rng) -> None:
    """Draw again (up to 30 times) every `c`-cell segment of `row` equal to an earlier one, in place."""
    seen: set[tuple[int, ...]] = set()
    for a in range(len(row) // c):
        for _ in range(30):
            seg = tuple(row[a * c:(a + 1) * c])
            if seg not in seen:
                break
            row[a * c:(a + 1) * c] = [rng.randint(0, 1) for _ in range(c)]
        seen.add(tuple(row[a * c:(a + 1) * c]))


@dataclass(frozen=True)
class Row(Fingerprint):
    """A 0/1 row shown in one piece: inside a run of 0/1 digits (spaces, commas, semicolons, brackets, table
    bars and prose joiners between them: "[0,1,1]", "0 1 1", "0, 1 and 1"), or down the value column of a
    table with an index column. Unlike an
    ordered run of all the content's numbers it never runs on through a label or a sentence ("Agent 0: 1,
    1, ...": the id is no cell), which would join the lists of a bundle into one long run whose windows
    are none of them."""

    cells: tuple[int, ...]

    @property
    def weak(self) -> bool:  # type: ignore[override]
        return len(self.cells) < 3

    def matches(self, p: Parsed) -> bool:
        run = self.cells
        if not run:
            return False
        bits = "".join(map(str, run))
        return any(bits in r for r in _bitruns(p.text))


@register
class Life1D(TaskSpec):
    """Rule 22 on a zero-padded row: cells beyond both ends of the global row stay 0 forever.

    After `steps` steps a cell depends on cells at distance <= steps (its light cone), so
    depends_on(i) = agents whose cells lie within `steps` of agent i's slice (its neighbours
    when slices hold >= steps cells). The raw evidence agent i needs from j is only the cells
    of j inside that cone (its halo), recognised as one 0/1 row (`Row`: a run of bits, a list in
    prose or a table column, never spanning two lists). Guard: a pattern is only credited for
    agents upstream of the content it appears in.

    v3 (default; a deviation from the reference): 10 steps instead of 5, so the light cone spans a
    neighbour's whole 10-cell segment and the halo is 10 cells. A 5-cell halo is 5 bits: any 10-cell
    0/1 row contains it by chance about 19% of the time (docs/chance_match.md), so no scorer can tell
    "received the halo" from "saw some other 0/1 row"; 10 bits match a foreign row about 0.1% of the
    time. Level and structure are kept: depends_on(i) is still {i-1, i, i+1}, 2(N-1) messages.
    The generator is v2's with 10 steps, and before each of its passes it draws again (up to 30
    times) any segment equal to an earlier one (at N near 1,000 some of the 1,024 possible segments
    may still repeat): an agent pasting its own segment would otherwise paste
    another agent's data too, which no scorer can tell apart (measured: 2 false "held" in 550).

    v2 (II-14@2): cells are uniform 0/1 as in the reference (v1, II-14@1), but while some agent's
    segment computed alone (padded with zeros, as if it had no neighbours) would be right, the
    `steps` cells of its neighbour next to it are drawn again (up to 30 passes). In v1 rule 22 often
    erases what crosses a border within 5 steps, so that own-segment answer was right 22% of the
    time at N = 2 and 11% at N = 5 (docs/guessability.md)."""

    id = "II-14"
    slug = "life-1d"
    name = "1D life"
    level = 2
    version = 3
    answer_kind = "segmented"
    answer_format = "a JSON list of 0/1 integers: the final values of your own cells, in order, e.g. [0, 1, 1, 0]"
    oracle = "halo"
    optimal_topology = "halo (neighbour exchange)"
    hint = ("Halo exchange: after 10 steps a cell depends only on cells at most 10 positions away, so each "
            "agent sends its 10 cells (its whole segment) to each neighbouring agent and simulates its own "
            "segment padded with them (neighbour exchange, 2(N-1) messages).")
    cells = 10
    steps = 10

    def optimal_messages(self, n_agents):
        return 2 * (n_agents - 1)

    def generate(self, n_agents, rng):
        row = [rng.randint(0, 1) for _ in range(self.cells * n_agents)]
        c, steps = self.cells, self.steps
        for _ in range(30 if n_agents > 1 else 0):
            _distinct(row, c, rng)
            final = life_steps(row, steps)
            alone = [a for a in range(n_agents)
                     if life_steps(row[a * c:(a + 1) * c], steps) == final[a * c:(a + 1) * c]]
            if not alone:
                break
            for a in alone:  # redraw the neighbour's cells next to this agent (its whole segment)
                start = (a + 1) * c if a + 1 < n_agents else a * c - steps
                row[start:start + steps] = [rng.randint(0, 1) for _ in range(steps)]
        return split_even(row, n_agents), {"steps": self.steps, "n_cells": len(row), "n_agents": n_agents}

    def solve(self, shards, params):
        return cut_like(life_steps([c for s in shards for c in s], params["steps"]), shards)

    def describe(self, n_agents, params):
        n = params["n_cells"]
        return (f"A row of {n} cells (positions 0..{n - 1}) is split into consecutive segments among {n_agents} "
                "agents: agent 0 holds the first segment, agent 1 the next, and so on. Every cell is 0 or 1. The "
                "row evolves in synchronous steps: a cell's next value is 1 if exactly one of (its left neighbour, "
                "itself, its right neighbour) is 1 now, else 0; cells beyond both ends of the row count as 0 and "
                f"never change. After {params['steps']} steps, every agent must submit the final values of its own "
                "cells, in order, as a JSON list of 0/1 integers.")

    def render_shard(self, data, agent, params):
        return span_text("Cells at positions", bounds(params["n_cells"], params["n_agents"])[agent][0], data)

    def check(self, answer, truth):
        return check_list(answer, truth)

    def depends_on(self, inst, agent):
        b = bounds(inst.params["n_cells"], inst.n_agents)
        lo, hi = b[agent][0] - inst.params["steps"], b[agent][1] + inst.params["steps"]
        return frozenset(j for j, (s, e) in enumerate(b) if s < hi and e > lo)

    def raw_fingerprint(self, inst, j, i):
        b = bounds(inst.params["n_cells"], inst.n_agents)
        s, e = self._cone(b, j, i, inst.params["steps"])
        return Row(tuple(inst.shards[j].data[s - b[j][0]:e - b[j][0]]))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return Row(tuple(inst.truth[i]))
        return None

    def halo_out(self, data, agent, to, params):
        b = bounds(params["n_cells"], params["n_agents"])
        s, e = self._cone(b, agent, to, params["steps"])
        return data[s - b[agent][0]:e - b[agent][0]]

    def halo_answer(self, data, agent, received, params):
        b = bounds(params["n_cells"], params["n_agents"])
        steps = params["steps"]
        lo, hi = max(0, b[agent][0] - steps), min(params["n_cells"], b[agent][1] + steps)
        row = [0] * (hi - lo)
        for j, cells in [*received.items(), (agent, data)]:
            s, e = self._cone(b, int(j), agent, steps)
            row[s - lo:e - lo] = cells
        # cells cut off at the window's inner edges are wrong after t steps only up to t cells inwards,
        # so the light cone keeps this agent's own cells exact
        return life_steps(row, steps)[b[agent][0] - lo:b[agent][1] - lo]

    @staticmethod
    def _cone(b, j, i, steps):
        """[start, end) global positions of j's cells inside agent i's light cone."""
        return max(b[j][0], b[i][0] - steps), min(b[j][1], b[i][1] + steps)


@register
class Life1DV2(Life1D):
    """II-14 v2: 5 steps, so a halo is the 5 cells of a neighbour next to the border; evidence as a Bits
    pattern (raw) or the answer as bits or an ordered run of numbers (statistic), as scored in v2."""

    version = 2
    hint = ("Halo exchange: after 5 steps a cell depends only on cells at most 5 positions away, so each agent "
            "sends its 5 boundary cells to each neighbouring agent and simulates its own segment padded with "
            "them (neighbour exchange, 2(N-1) messages).")
    steps = 5

    def generate(self, n_agents, rng):
        row = [rng.randint(0, 1) for _ in range(self.cells * n_agents)]
        c, steps = self.cells, self.steps
        for _ in range(30 if n_agents > 1 else 0):
            final = life_steps(row, steps)
            alone = [a for a in range(n_agents)
                     if life_steps(row[a * c:(a + 1) * c], steps) == final[a * c:(a + 1) * c]]
            if not alone:
                break
            for a in alone:  # redraw the neighbour's cells next to this agent
                start = (a + 1) * c if a + 1 < n_agents else a * c - steps
                row[start:start + steps] = [rng.randint(0, 1) for _ in range(steps)]
        return split_even(row, n_agents), {"steps": self.steps, "n_cells": len(row), "n_agents": n_agents}

    def raw_fingerprint(self, inst, j, i):
        b = bounds(inst.params["n_cells"], inst.n_agents)
        s, e = self._cone(b, j, i, inst.params["steps"])
        return Bits("".join(map(str, inst.shards[j].data[s - b[j][0]:e - b[j][0]])))

    def stat_fingerprint(self, inst, agents, i):
        if agents >= self.depends_on(inst, i):
            return AnyOf((Bits("".join(map(str, inst.truth[i]))), answer_fingerprint(inst.truth[i])))
        return None


@register
class Life1DV1(Life1DV2):
    """II-14 v1, the reference's generator: every cell uniform 0/1, 5 steps."""

    version = 1

    def generate(self, n_agents, rng):
        row = [rng.randint(0, 1) for _ in range(self.cells * n_agents)]
        return split_even(row, n_agents), {"steps": self.steps, "n_cells": len(row), "n_agents": n_agents}
