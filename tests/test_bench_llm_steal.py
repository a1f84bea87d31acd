"""scripts/bench_llm_steal.py's burner takes the dose it is asked for, and measures it (fails if the duty cycle's
sleep, the CPU-timed burst or the go/stop protocol is wrong: a dose that drifts from f or is misreported)."""

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_llm_steal.py"


def test_burner_takes_half_a_core_for_a_second():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--burn", "0.5", "0.003"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(1.0)
    proc.stdin.close()
    got = json.loads(proc.stdout.readline())
    assert proc.wait(timeout=30) == 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert 0.95 < got["wall_s"] < 1.5
    assert 0.4 < got["cpu_s"] / got["wall_s"] < 0.6, got
    # the burner's own count is its CPU since 'go': below the process's whole CPU, by no more than its start-up
    assert got["cpu_s"] <= used + 0.01 and used - got["cpu_s"] < 1.0, (got, used)
