"""Embedded-server settings that do not need the model: thread choice, environment knobs, grammar."""

import pytest

from silo import local_model
from silo.local_model import LocalModelError, ServerSettings, idle_cores


def fake_stat(monkeypatch, cpus: int, samples: list[tuple[int, int]]) -> None:
    it = iter(samples)
    monkeypatch.setattr(local_model.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(local_model, "_cpu_times", lambda: next(it))
    monkeypatch.setattr(local_model.time, "sleep", lambda s: None)


@pytest.mark.parametrize(("cpus", "busy_share", "expected"), [
    (2, 0.0, 2),   # idle machine: every core
    (2, 0.5, 1),   # one core taken by another process
    (2, 1.0, 1),   # all taken: still one thread
    (4, 0.25, 3),
    (32, 0.0, 8),  # capped: a 135M model gains nothing from more
])
def test_threads_follow_the_idle_cores(monkeypatch, cpus, busy_share, expected):
    total = 1000
    fake_stat(monkeypatch, cpus, [(0, 0), (total, int(total * (1 - busy_share)))])
    assert idle_cores() == expected


def test_unreadable_cpu_stats_fall_back_to_all_cores(monkeypatch):
    monkeypatch.setattr(local_model.os, "cpu_count", lambda: 2)

    def broken():
        raise OSError("no /proc here")

    monkeypatch.setattr(local_model, "_cpu_times", broken)
    assert idle_cores() == 2


def test_environment_overrides_and_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("SILO_LOCAL_THREADS", "3")
    monkeypatch.setenv("SILO_LOCAL_SLOTS", "5")
    s = ServerSettings.from_env()
    assert (s.threads, s.slots) == (3, 5)
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("SILO_LOCAL_THREADS", bad)
        with pytest.raises(LocalModelError, match="SILO_LOCAL_THREADS must be a positive integer"):
            ServerSettings.from_env()


def test_real_proc_stat_gives_a_sane_thread_count():
    n = idle_cores(sample_s=0.05)
    assert 1 <= n <= min(8, local_model.os.cpu_count() or 1)


def test_grammar_rejects_other_response_formats():
    with pytest.raises(LocalModelError, match="json_schema"):
        local_model.grammar({"type": "json_object"})
    g = local_model.grammar({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}})
    assert g.startswith("%llguidance") and '"whitespace_flexible": false' in g


def test_server_params_apply_overrides_and_reject_unknown_settings():
    s = local_model.ServerSettings(slots=3, ctx_per_slot=1024, threads=1)
    p = local_model.server_params("smollm2-135m", s, {"n_ubatch": 64, "flash_attn_type": 0})
    assert (p.n_parallel, p.n_ctx, p.n_ubatch, p.flash_attn_type) == (3, 3072, 64, 0)
    assert p.cpuparams.n_threads == p.cpuparams_batch.n_threads == 1 and p.cache_prompt
    assert local_model.server_params("smollm2-135m", s).n_ubatch != 64
    with pytest.raises(local_model.LocalModelError, match="unknown llama.cpp server setting 'n_turbo'"):
        local_model.server_params("smollm2-135m", s, {"n_turbo": 1})
