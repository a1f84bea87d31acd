"""How the replay records an agent's evidence gains (mixed into silo.replay.Replay): a gain is only noted, and the
agent's evidence bits and history are made where they are read (`_flush`: at its sends and writes, at its submit, in
Replay.evid). Gossip over broadcast makes N^2 gains of one shard; made per gain, each was an N-bit int and a history
tuple, most never read. Uses the replay's _eb (evidence bits), _hist (history) and _pend / _grouped (pending gains).
"""

from __future__ import annotations

from silo.bitsets import bits_of

HISTORY = 3  # evidence snapshots of an author offered as candidate sets (most recent first)
PENDING_CAP = 256  # gains an agent may have pending (not yet in its evidence bits) before they are flushed anyway


class Gains:
    """Replay's evidence gains: noted per gain (_record), made into bits and history where read (_flush)."""

    _eb: list[int]
    _hist: list[tuple[int, ...]]
    _pend: list[list]
    _grouped: set[int]

    def _record(self, i: int, got, missing: set[int]) -> None:
        """Agent i gains the shards `got` (not empty, within `missing`, which loses them). Only noted: its evidence
        bits and history are made where read (_flush), not per gain (gossip over broadcast: N^2 gains of one shard,
        each an N-bit int and a tuple made, most never read)."""
        missing -= got
        pend = self._pend[i]
        if len(got) == 1:
            j, = got
            pend.append(j)
        else:
            pend.append(got)  # (a set the caller no longer changes: _credit's own, or _shown's kept one)
            self._grouped.add(i)
        if len(pend) > PENDING_CAP:
            self._flush(i)

    def _flush(self, a: int) -> None:
        """Agent a's pending gains into its evidence bits and history, exactly as made per gain: the history holds
        its evidence after each of its last HISTORY gains, oldest first. Gains are disjoint and evidence only grows,
        so the state before a gain is the state after it minus its bits: only the last HISTORY states are made."""
        pend = self._pend[a]
        if len(pend) == 1:  # (where an agent sends about as often as it gains, as on a grid's flood: the eager step)
            g = pend.pop()
            eb = self._eb[a] = self._eb[a] | (1 << g if isinstance(g, int) else bits_of(g))
            self._hist[a] = (*self._hist[a][1 - HISTORY:], eb)
            self._grouped.discard(a)
            return
        if a in self._grouped:
            self._grouped.discard(a)
            gains = [1 << g if isinstance(g, int) else bits_of(g) for g in pend]
            eb = self._eb[a] | sum(gains)  # (disjoint: their sum is their union)
            last = gains[-HISTORY:]
        else:  # (only single shards: no Python step per gain)
            eb = self._eb[a] | _bits_of_ids(pend)
            last = [1 << g for g in pend[-HISTORY:]]
        states = [eb]  # (newest first: each the one after it minus that gain)
        for g in last[:0:-1]:
            states.append(states[-1] ^ g)
        old = self._hist[a]
        self._hist[a] = (*old[max(0, len(old) - HISTORY + len(states)):], *reversed(states))
        self._eb[a] = eb
        pend.clear()

    def _flush_all(self) -> None:
        """Every agent's pending gains into its evidence (before the evidence of all is read)."""
        if any(self._pend):
            for a, pend in enumerate(self._pend):
                if pend:
                    self._flush(a)


def _bits_of_ids(ids: list[int]) -> int:
    """bits_of(ids) for a list of distinct ids: for a few, a sum of shifts; for many (an agent of a broadcast's gossip
    flushes ~N single gains at its one send), one string of binary digits, not a shift and an add of an N-bit int per
    id (at N = 1,000: ~45 us, not ~125). The crossover is measured (~32-64 ids)."""
    if len(ids) < 48:
        return sum(map((1).__lshift__, ids))
    digits = bytearray(b"0") * (max(ids) + 1)
    for j in ids:
        digits[j] = 49  # ("1")
    return int(digits[::-1], 2)
