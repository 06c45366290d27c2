"""Tests of budgetsplit.run.speed: the bare-loop measurement runs, is cached per machine, and a damaged
cache file is measured again rather than trusted."""

from __future__ import annotations

from budgetsplit.run import speed


def test_measure_runs_the_loop_and_the_cache_skips_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path))
    monkeypatch.setattr(speed, "SECONDS", 0.3)
    rate = speed.tokens_per_s()
    assert rate > 100  # a 1M-parameter model trains far faster than 100 tokens/s on any CPU
    calls = []
    monkeypatch.setattr(speed, "measure", lambda threads=1: calls.append(threads) or 1234.0)
    assert speed.tokens_per_s() == rate and not calls  # read back, not measured
    assert speed.tokens_per_s(fresh=True) == 1234.0 and calls == [1]
    assert speed.tokens_per_s() == 1234.0  # the fresh number replaced the cached one
    assert "1,234 tokens/s" in speed.describe(1234.0) and "1 thread " in speed.describe(1.0)
    assert "2 threads" in speed.describe(1.0, threads=2)


def test_a_damaged_cache_file_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path))
    monkeypatch.setattr(speed, "measure", lambda threads=1: 500.0)
    path = speed._cache_file(1)
    path.parent.mkdir(parents=True)
    path.write_text('{"tokens_per')
    assert speed.tokens_per_s() == 500.0
    assert '"tokens_per_s": 500.0' in path.read_text()
