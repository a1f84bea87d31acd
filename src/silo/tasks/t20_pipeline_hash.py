"""II-20 pipeline hash: 5 text blocks per agent; h_i = ((ASCII sum of block i) mod 10000 XOR h_(i-1)) mod 10000."""

from __future__ import annotations

import json
import string

from silo.evidence import AnyOf, Items, Value, Words, answer_fingerprint
from silo.tasks import register
from silo.tasks.common import ChainTask
from silo.tasks.common import instance_memo as _memo
from silo.tasks.t11_prefix_sum import _prefix, check_list, prefix_candidates

MOD = 10000


def block_hashes(blocks: list[str], h: int) -> list[int]:
    """Hashes of consecutive blocks, starting from the previous hash h."""
    out = []
    for b in blocks:
        h = ((sum(map(ord, b)) % MOD) ^ h) % MOD
        out.append(h)
    return out


@register
class PipelineHash(ChainTask):
    """Hash chain over blocks in global order, h_(-1) = 0; each agent submits the hashes of its own blocks.

    Decision: the reference's blocks read "Block_i_Data", which makes every hash computable from
    the block index alone; here each block also carries a random 6-character payload
    ("Block_<i>_Data_<payload>", i the global block index) so the chain needs the other shards.
    The mod 10000 after the XOR makes the chain non-associative: only prefixes {0..k} (k < i)
    have a statistic agent i can use, the hash ending shard k (the chain carry, sent as that
    agent's list of hashes). A carry value below 10 is weak, so the fingerprint then requires
    the ordered run of shard k's hashes. Raw evidence is the shard's block strings as words."""

    id = "II-20"
    slug = "pipeline-hash"
    name = "pipeline hash"
    level = 2
    version = 1
    answer_kind = "segmented"
    raw_per_receiver = False  # raw_fingerprint does not depend on the receiver
    answer_format = "a JSON list of integers: the hashes of your own blocks, in order, e.g. [5120, 913, 4471, 2, 6088]"
    oracle = "chain"
    hint = ("Pipeline: agent 0 hashes its blocks starting from 0 and passes its last hash to agent 1, which "
            "continues the chain from it and passes its own last hash on, and so on (chain topology, N-1 messages).")
    blocks = 5
    payload = 6

    def generate(self, n_agents, rng):
        alphabet = string.ascii_lowercase + string.digits
        shards = [[f"Block_{a * self.blocks + k}_Data_{''.join(rng.choice(alphabet) for _ in range(self.payload))}"
                   for k in range(self.blocks)] for a in range(n_agents)]
        return shards, {"blocks_per_agent": self.blocks}

    def solve(self, shards, params):
        out, h = [], 0
        for s in shards:
            out.append(block_hashes(s, h))
            h = out[-1][-1] if out[-1] else h
        return out

    def describe(self, n_agents, params):
        return (f"{n_agents} agents each hold {params['blocks_per_agent']} consecutive text blocks of one global "
                "sequence of blocks (agent 0 holds the first blocks, agent 1 the next, and so on; block names give "
                "their global position). The blocks are hashed in global order: h(-1) = 0 and, for block number k, "
                "h(k) = ((sum of the ASCII codes of all characters of block k) mod 10000 XOR h(k-1)) mod 10000, "
                "where XOR is bitwise exclusive or. Every agent must submit h(k) for each of its own blocks, in "
                "order, as a JSON list of integers.")

    def render_shard(self, data, agent, params):
        return f"Your blocks, in order: {json.dumps(data)}"

    def check(self, answer, truth):
        return check_list(answer, truth)

    def depends_on(self, inst, agent):
        return _prefix(agent)  # (frozenset(range(agent + 1)), one object per agent: sets equal to it are found by id)

    def stat_receiver(self, inst, agents, i):
        return -1 if agents and max(agents) < i else i  # (a set short of i: its carry, whoever reads it)

    def credit_receiver(self, inst, prov, i):
        return -1 if prov and max(prov) < i else i  # (a receiver past all the content's author had: the same search)

    def raw_fingerprint(self, inst, j, i):
        return Words(tuple(inst.shards[j].data))

    def candidate_sets(self, inst, upstream, i):
        return prefix_candidates(upstream, i)

    def stat_fingerprint(self, inst, agents, i):
        # one object per value (memo), as II-11's: a set short of 0..i has one fingerprint for every receiver
        memo = _memo(inst)
        if agents >= _prefix(i):
            got = memo.get(("answer", i))
            if got is None:
                got = memo[("answer", i)] = answer_fingerprint(inst.truth[i])
            return got
        key = ("part", agents)
        if key not in memo:
            memo[key] = self._carry(inst, agents)
        return memo[key]

    def _carry(self, inst, agents):
        k = max(agents)
        if agents != _prefix(k) or not inst.truth[k]:
            return None  # only a prefix of the chain has a usable statistic
        run = Items(tuple(inst.truth[k]), ordered=True)
        carry = Value(inst.truth[k][-1])
        return run if carry.weak else AnyOf((carry, run))

    def chain_init(self, params):
        return []

    def chain_step(self, carry, data, agent, params):
        mine = block_hashes(data, carry[-1] if carry else 0)
        return mine, mine
