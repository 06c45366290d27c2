"""The thread policy: a process takes its share of the cores among the live, active budgetsplit
processes (real processes registering in a private runtime folder; nothing is timed)."""

import os
import subprocess
import sys
import time

import pytest
import torch

from budgetsplit.core import threads

CHILD = (
    "from budgetsplit.core.threads import register; register(); print('ready', flush=True); input()"
)


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setenv(threads.RUNTIME_ENV, str(tmp_path))
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    before = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(before)


def start_child(folder):
    env = {**os.environ, threads.RUNTIME_ENV: str(folder)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def test_processes_share_the_cores_and_a_dead_one_frees_its_share(runtime):
    assert threads.set_cpu_threads() == 4 and torch.get_num_threads() == 4  # alone
    child = start_child(runtime)
    try:
        assert threads.active_processes() == 2
        assert threads.set_cpu_threads() == 2 and torch.get_num_threads() == 2
        assert threads.set_cpu_threads(1) == 1  # cpu_threads caps the share
        assert threads.set_cpu_threads(8) == 2  # and never raises it
    finally:
        child.kill()  # no clean-up runs: the kernel drops its lock
        child.wait()
    assert threads.set_cpu_threads() == 4
    assert len(list(runtime.glob("*.lock"))) == 1  # the dead one's file is gone; ours stays


def test_an_idle_process_is_not_counted(runtime):
    threads.register()
    child = start_child(runtime)
    try:
        (theirs,) = set(runtime.glob("*.lock")) - {threads._slot["path"]}
        old = time.time() - threads.IDLE_S - 1
        os.utime(theirs, (old, old))
        assert threads.active_processes() == 1 and threads.cpu_share() == 4
    finally:
        child.kill()
        child.wait()


def test_an_explicit_count_wins_and_bad_ones_are_named(runtime, monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    assert threads.set_cpu_threads() == 3 and threads.set_cpu_threads(1) == 3
    monkeypatch.setenv(threads.THREADS_ENV, "many")
    with pytest.raises(ValueError, match=r"\$BUDGETSPLIT_THREADS .* got 'many'"):
        threads.cpu_share()
    monkeypatch.delenv(threads.THREADS_ENV)
    with pytest.raises(ValueError, match="cpu_threads must be > 0, got 0"):
        threads.set_cpu_threads(0)


def test_refresh_rereads_the_count_at_most_every_refresh_s(runtime, monkeypatch):
    monkeypatch.setattr(threads, "REFRESH_S", 1e9)
    assert threads.set_cpu_threads() == 4
    child = start_child(runtime)
    try:
        assert threads.refresh_cpu_threads() == 4  # read REFRESH_S ago at most: not again yet
        monkeypatch.setattr(threads, "REFRESH_S", 0.0)
        assert threads.refresh_cpu_threads() == 2
    finally:
        child.kill()
        child.wait()


def test_the_trainer_callback_refreshes_only_a_process_that_opted_in(runtime, monkeypatch):
    from transformers import TrainerCallback

    monkeypatch.setattr(threads, "_slot", {})  # a fresh process: never called set_cpu_threads
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    torch.set_num_threads(1)
    callback = threads.cpu_share_callback()
    assert isinstance(callback, TrainerCallback)
    callback.on_step_begin(None, None, None)
    assert torch.get_num_threads() == 1 and not list(runtime.glob("*.lock"))
    threads.set_cpu_threads(1)
    monkeypatch.setattr(threads, "usable_cores", lambda: 3)
    callback.on_step_begin(None, None, None)  # the cap of 1 stays
    assert torch.get_num_threads() == 1
    threads._slot["requested"] = None
    callback.on_step_begin(None, None, None)
    assert torch.get_num_threads() == 3


def test_a_runtime_folder_that_cannot_be_written_means_alone(runtime, monkeypatch):
    blocker = runtime / "file"
    blocker.write_text("")
    monkeypatch.setenv(threads.RUNTIME_ENV, str(blocker / "sub"))  # a folder under a file
    monkeypatch.setattr(threads, "_slot", {})
    with pytest.warns(UserWarning, match="cannot register"):
        assert threads.set_cpu_threads() == 4
