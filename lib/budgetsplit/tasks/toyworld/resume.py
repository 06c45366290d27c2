"""Pretraining in resumable chunks: the state of a base-model build between two steps, kept beside
the cache so a build killed, or paused on purpose, goes on from where it stopped.

A build of key K keeps `$BUDGETSPLIT_CACHE/base/K.partial/state.pt` (written by this module only,
read with `weights_only=True`): the step reached, the model's and the optimizer's tensors, the
scheduler, the data order's generator state and position, the losses so far, the seconds spent and
the thread counts of each stretch. It is rewritten every few minutes (`CHECKPOINT_EVERY_S`) and when
a build pauses (`pretrain(..., pause_after_s=...)`, `budgetsplit toyworld build --pause-after MIN`),
atomically: a kill mid-write leaves the previous state. The corpus and tokenizer are rebuilt on
resume (both deterministic for the world), so the state holds only what training changes.

Resumed on the same machine with the same threads, a build gives the weights an unbroken one gives
(tests/test_resume.py); on another machine or thread count its later steps run on other CPU kernels,
as any build there would. The build info lists the steps it resumed at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STATE = "state.pt"
CHECKPOINT_EVERY_S = 300.0  # at most this much training is lost to a kill


class BuildPaused(Exception):
    """A build stopped on purpose after its time budget; its state is saved to resume from."""

    def __init__(self, step: int, steps: int, folder: Path):
        self.step, self.steps, self.folder = step, steps, folder
        super().__init__(
            f"pretraining paused at step {step:,} of {steps:,}; its state is in {folder}. "
            "Run the same command again to go on from there."
        )


def partial_dir(final: Path) -> Path:
    """Where the resumable state of the build that fills `final` lives."""
    return final.with_name(final.name + ".partial")


def save_state(folder: Path, key: str, step: int, model, opt, sched, order, data: dict) -> None:
    """Write the state after `step` steps: `data` holds perm, pos, losses, train_s, wall_s,
    resumed_at and threads (plain values and tensors)."""
    import torch  # here, so the CLI can import BuildPaused without torch

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(
        f".{folder.name}.{os.getpid()}.new.tmp"
    )  # store.remove_stale_temps' form
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    state = {
        "key": key,
        "step": step,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "order": order.get_state(),
        **data,
    }
    torch.save(state, tmp / STATE)
    with open(tmp / STATE, "rb+") as fh:
        os.fsync(fh.fileno())
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old.tmp")
    if folder.exists():
        os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def load_state(folder: Path, key: str) -> dict | None:
    """The saved state of the build of `key`, or None when there is none. A state that cannot be
    read, or of another key, is named and moved aside (the build then starts from step 0)."""
    import torch

    path = folder / STATE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True)
        if state.get("key") != key:
            raise ValueError(f"it is of key {state.get('key')!r}, not {key!r}")
    except Exception as e:  # a damaged file: the build is redone from the start, not lost
        from budgetsplit.core.store import move_aside

        where = move_aside(folder)
        print(f"pretraining state {path} is unusable ({e}); moved aside to {where.name}")
        return None
    return state
