"""CPU threads: each budgetsplit process takes its share of the cores, not every core.

torch uses every core by default, so two processes on one 2-core machine ran four busy threads and
slowed each other about 8x. The policy, in one sentence: a process that computes registers in a
per-user runtime folder, and uses `usable_cores() // n` threads, n being the number of registered
processes that are alive and active, counted again at each cell and world build and, at most
every `REFRESH_S`, at each training step (Trainer callback, pretraining loop) and generation batch.
In detail:

- Registering (`set_cpu_threads`, once per process) creates `<runtime_dir()>/<pid>-<token>.lock`
  and holds an exclusive flock on it for the process's life: the kernel drops the lock when the
  process ends, however it ends, so a crashed process is found dead (its lock can be taken) and its
  file removed by the next count. A file is only published (renamed to *.lock) once locked.
- Active: a process touches its file whenever it re-reads its share; one whose file is older than
  `IDLE_S` (a Jupyter kernel that trained an hour ago) is alive but not counted.
- `cpu_threads` in params caps the share (never raises it); `$BUDGETSPLIT_THREADS` sets an exact
  count and turns sharing off; without fcntl (Windows), or with a runtime folder that cannot be
  written (a warning says so), a process takes every core, as torch does.
- `$BUDGETSPLIT_RUNTIME` moves the runtime folder (default: $XDG_RUNTIME_DIR/budgetsplit, else
  <tmp>/budgetsplit-<uid>). Processes of other users, and programs other than budgetsplit, are not
  seen: the policy shares the machine among one user's budgetsplit processes.

    from budgetsplit.core.threads import set_cpu_threads, refresh_cpu_threads
    set_cpu_threads(params.cpu_threads)      # at the start of a cell or a build
    refresh_cpu_threads()                    # in a training loop: cheap, re-reads every REFRESH_S
    trainer.add_callback(cpu_share_callback())  # the same, for a transformers Trainer
"""

from __future__ import annotations

import getpass
import os
import secrets
import tempfile
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; every process takes every core
    fcntl = None

THREADS_ENV = "BUDGETSPLIT_THREADS"
RUNTIME_ENV = "BUDGETSPLIT_RUNTIME"
IDLE_S = 300.0  # a registered process that has not re-read its share for this long is idle
REFRESH_S = 10.0  # refresh_cpu_threads re-reads the count at most this often

_slot: dict = {}  # this process's registration: {"path", "fd", "requested", "checked"}


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def runtime_dir() -> Path:
    """The per-user folder where computing processes register."""
    if os.environ.get(RUNTIME_ENV):
        return Path(os.environ[RUNTIME_ENV])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "budgetsplit"
    uid = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
    return Path(tempfile.gettempdir()) / f"budgetsplit-{uid}"


def register() -> Path | None:
    """Register this process (idempotent; marks it active); its file, or None where that cannot be
    done (no flock, a runtime folder that cannot be written): it then counts as if alone."""
    if fcntl is None:
        return None
    folder = runtime_dir()
    mine = _slot.get("path") if _slot.get("pid") == os.getpid() else None
    try:
        if mine is not None and mine.parent == folder:
            try:
                os.utime(mine)  # active again
                return mine
            except FileNotFoundError:  # removed under us (a tmp cleaner): register anew
                pass
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        tmp = folder / f"{name}.new"
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = tmp.rename(folder / f"{name}.lock")  # published locked: never taken for a dead one
    except OSError as e:
        if not _slot.get("warned"):
            msg = f"budgetsplit: cannot register in {folder} ({e}); threads as if alone"
            warnings.warn(msg, stacklevel=3)
            _slot["warned"] = True
        return None
    if mine is not None:  # the old registration ($BUDGETSPLIT_RUNTIME moved, or file removed)
        mine.unlink(missing_ok=True)
        os.close(_slot["fd"])
    _slot.clear()
    _slot.update(pid=os.getpid(), path=path, fd=fd)
    return path


def active_processes(now: float | None = None) -> int:
    """Registered processes alive and active (this one included once registered); removes dead ones."""
    folder = runtime_dir()
    if fcntl is None or not folder.is_dir():
        return 1
    now = time.time() if now is None else now
    mine = _slot.get("path") if _slot.get("pid") == os.getpid() else None
    n = 0
    for path in folder.glob("*.lock"):
        if path == mine:
            n += 1
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # removed by another counter
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its owner holds the lock: alive
            n += int(now - os.fstat(fd).st_mtime < IDLE_S)
        else:  # nobody holds it: its process ended
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return max(n, 1)


def cpu_share(requested: int | None = None) -> int:
    """Threads for this process now: its share of the cores, at most `requested` (see above)."""
    if os.environ.get(THREADS_ENV):
        value = os.environ[THREADS_ENV]
        if not value.isdigit() or int(value) <= 0:
            raise ValueError(f"${THREADS_ENV} must be a whole number > 0, got {value!r}")
        return int(value)
    if requested is not None and requested <= 0:
        raise ValueError(f"cpu_threads must be > 0, got {requested}")
    register()
    share = max(1, usable_cores() // active_processes())
    return min(share, requested) if requested else share


def set_cpu_threads(n: int | None = None) -> int:
    """Use this process's share of the cores, at most `n` threads (None: the share); returns it."""
    import torch  # here, not above: registering and counting stay light for any process

    threads = cpu_share(n)
    _slot.update(requested=n, checked=time.monotonic())
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    try:
        # Inter-op threads can only be set before the first parallel op; later calls keep the old pool.
        torch.set_num_interop_threads(min(threads, 2))
    except RuntimeError:
        pass
    return threads


def refresh_cpu_threads() -> int:
    """`set_cpu_threads` again with the last request, at most every REFRESH_S; the threads in use.

    A process that never called `set_cpu_threads` (a test pinning one thread) is left as it is."""
    import torch

    if "checked" not in _slot or time.monotonic() - _slot["checked"] < REFRESH_S:
        return torch.get_num_threads()
    return set_cpu_threads(_slot.get("requested"))


def cpu_share_callback():
    """A transformers TrainerCallback that re-reads the share at each step (`refresh_cpu_threads`)."""
    from transformers import TrainerCallback

    class CpuShare(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            refresh_cpu_threads()

    return CpuShare()
