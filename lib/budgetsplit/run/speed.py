"""This machine's training speed as one number, so that times measured on one machine can be
quoted and scaled to another: the bare-loop tokens/s of a toy-sized Llama on one thread.

    budgetsplit speed [--fresh]     # measures (about 5 s; cached) and prints tokens/s
    from budgetsplit.run.speed import tokens_per_s
    tokens_per_s()                            # cached per (CPU, torch version, threads)

The loop is the floor of our SFT stage (bench/train_throughput.py's "bare" loop, on random data):
a Llama of the toy profile's architecture (params/toy/world.yaml; random weights, a speed does not
depend on them), batches of 8 x 128 tokens, forward, cross-entropy, backward, AdamW step; on one
thread, a grid worker's share on a 2-core machine. Two warm-up steps, then steps for 3 seconds.
The docs quote it beside every measured time; `estimate.plan` scales its cost model by it before a
profile has finished cells (`estimate.REFERENCE_TOKENS_S`). Like any timing it reads low while other
processes compute: measure on a quiet machine (`--fresh` measures again).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch
from transformers import LlamaForCausalLM

from budgetsplit.config.params import load_world
from budgetsplit.core.store import atomic_file, stream_digest
from budgetsplit.tasks.toyworld.pretrain import cache_root, llama_config

BATCH, SEQ, WARMUP, SECONDS = 8, 128, 2, 3.0


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache_file(threads: int) -> Path:
    key = f"{cpu_model()}|{os.cpu_count()}|{torch.__version__}|{threads}|{BATCH}x{SEQ}"
    return cache_root() / "speed" / f"{stream_digest([key.encode()])}.json"


def measure(threads: int = 1) -> float:
    """Bare-loop training tokens/s of the toy architecture on `threads` threads (module docstring)."""
    world = load_world("toy")
    p, config = world.pretrain, llama_config(world)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randint(0, p.vocab_size, (BATCH, SEQ))
        steps, start = 0, None
        while start is None or time.perf_counter() - start < SECONDS:
            loss = model(input_ids=x, labels=x).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            steps += 1
            if start is None and steps == WARMUP:
                start, steps = time.perf_counter(), 0
        return steps * BATCH * SEQ / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)


def tokens_per_s(threads: int = 1, fresh: bool = False) -> float:
    """This machine's bare-loop tokens/s, measured once and cached (`fresh`: measure again)."""
    path = _cache_file(threads)
    if not fresh:
        try:
            return float(json.loads(path.read_text())["tokens_per_s"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, or a damaged file: measure (ours, and rewritten whole below)
    rate = measure(threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        Path(tmp).write_text(
            json.dumps({"tokens_per_s": rate, "cpu": cpu_model(), "threads": threads})
        )
    return rate


def describe(rate: float, threads: int = 1) -> str:
    return f"{rate:,.0f} tokens/s bare loop, {threads} thread{'s' * (threads > 1)} ({cpu_model()})"
