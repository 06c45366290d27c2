"""The toy world's base model: a tiny Llama pretrained from scratch on the world's "web text", cached.

`get_base_model(world)` returns a folder with the model (safetensors) and its tokenizer, built once
per world config (or shipped with the package, below) and reused after:

1. corpus (corpus.py): `world.pretrain.corpus_docs` plain-prose documents, an equal share from
   each task's `corpus_documents(seed, n, **knobs)` (less `pretrain.copy_share` of copy drills
   over their words), shuffled by `world.seed`; the knobs are the task's `world.tasks` settings
   (e.g. math's max_number), so the base model learns the facts of the world the tasks are drawn
   from. It never sees the chat template (checked: no special token in any document) nor any
   task's response format.
2. tokenizer: byte-level BPE trained on the training documents (see `tokenizer.py`).
3. model: `LlamaForCausalLM` from `world.pretrain`, float32, trained on packed `seq_len` blocks with
   EOT between documents, AdamW, linear warmup then cosine decay, gradient clipping; deterministic
   for `world.seed`. A held-out share of the documents gives the held-out loss.

The cache folder is `$BUDGETSPLIT_CACHE/base/<key>` (default root `~/.cache/budgetsplit`); a cached
model that is not whole (weights emptied or truncated, a damaged JSON file) is named, moved aside
and rebuilt. The key (corpus.cache_key) hashes what the model depends on: the seed, the pretrain
section, CODE_VERSION and a fingerprint of the corpus generators (with their knobs), so editing a
task's corpus rebuilds the model, and pool sizes or knobs the corpus does not take do not.

Before pretraining, a missing cache entry is filled from the model shipped with the package for
that key (`shipped.py`, `base_models/<world>/`), copied byte for byte, so every machine gets the
same weights (pretraining on another CPU gives other ones); a damaged shipped model is an error
naming its file. Only a key nothing ships for is pretrained here.
Pretraining with a `state_dir` (what `find_base_model` passes: `<key>.partial` beside the final
folder) saves its state every few minutes (resume.py) and a rerun goes on from it, so a killed
build loses minutes, not the build; `pause_after_s` stops it on purpose after that much training,
for builds longer than a sitting. A paused and resumed build gives the same weights as an unbroken
one on the same machine and thread count (tests/test_resume.py).
Run it as `budgetsplit toyworld build --profile toy [--pause-after MIN]`; `--rebuild` compares a
fresh build with the shipped model, `--ship` refreshes the shipped model (cli/toyworld.py).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from filelock import FileLock

from budgetsplit.config.params import WorldConfig, to_dict
from budgetsplit.core.progress import frontend
from budgetsplit.core.progress import progress as progress_bar
from budgetsplit.core.store import (
    DamagedFileError,
    atomic_folder,
    move_aside,
    read_saved_model,
    remove_stale_temps,
)
from budgetsplit.core.threads import refresh_cpu_threads, set_cpu_threads
from budgetsplit.tasks.toyworld.corpus import (  # re-exported: the corpus and key of a build
    CODE_VERSION as CODE_VERSION,
)
from budgetsplit.tasks.toyworld.corpus import CorpusSource as CorpusSource
from budgetsplit.tasks.toyworld.corpus import build_corpus as build_corpus
from budgetsplit.tasks.toyworld.corpus import cache_key as cache_key
from budgetsplit.tasks.toyworld.corpus import default_sources as default_sources
from budgetsplit.tasks.toyworld.resume import (
    CHECKPOINT_EVERY_S,
    BuildPaused,
    load_state,
    partial_dir,
    save_state,
)
from budgetsplit.tasks.toyworld.shipped import find_shipped, install
from budgetsplit.tasks.toyworld.tokenizer import EOT, train_tokenizer


def cache_root() -> Path:
    return Path(os.environ.get("BUDGETSPLIT_CACHE") or Path.home() / ".cache" / "budgetsplit")


def llama_config(world: WorldConfig, tokenizer=None):
    """The base model's architecture; with the trained tokenizer, its vocabulary and special
    tokens (without: `pretrain.vocab_size` and none, enough to time the model, budgetsplit.run.speed)."""
    from transformers import LlamaConfig

    p = world.pretrain
    special = (
        {}
        if tokenizer is None
        else {
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
    )
    return LlamaConfig(
        vocab_size=p.vocab_size if tokenizer is None else len(tokenizer),
        hidden_size=p.hidden_size,
        intermediate_size=p.intermediate_size,
        num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads,
        num_key_value_heads=p.num_heads,
        max_position_embeddings=p.seq_len,
        tie_word_embeddings=True,
        **special,
    )


def _pack(tokenizer, docs: list[str], seq_len: int) -> torch.Tensor:
    """Documents joined by EOT into one stream, cut into [n_blocks, seq_len] (the tail is dropped)."""
    eot = tokenizer.convert_tokens_to_ids(EOT)
    stream: list[int] = []
    for ids in tokenizer(docs, add_special_tokens=False)["input_ids"]:
        stream.extend(ids)
        stream.append(eot)
    n_blocks = len(stream) // seq_len
    if n_blocks == 0:
        raise ValueError(f"corpus too small: {len(stream)} tokens < seq_len {seq_len}")
    return torch.tensor(stream[: n_blocks * seq_len]).view(n_blocks, seq_len)


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))  # cosine down to 10% of the peak


@torch.no_grad()
def _mean_loss(model, blocks: torch.Tensor, batch_size: int) -> float:
    model.eval()
    losses = [model(input_ids=b, labels=b).loss.item() for b in blocks.split(batch_size)]
    model.train()
    return sum(losses) / len(losses)


def pretrain(
    world: WorldConfig,
    sources: Mapping[str, CorpusSource],
    out_dir: Path,
    progress: bool = True,
    state_dir: Path | None = None,
    pause_after_s: float | None = None,
    pause_at_step: int | None = None,
) -> dict:
    """Build the corpus, tokenizer and model; save both into `out_dir`; return the build info.

    With `state_dir` the build is resumable (resume.py): it goes on from the state saved there,
    saves it every few minutes, and after `pause_after_s` seconds of training (or at step
    `pause_at_step`) saves it and raises `BuildPaused`."""
    from transformers import LlamaForCausalLM

    p, start = world.pretrain, time.time()
    docs = build_corpus(world, sources)
    n_held = max(1, min(1000, len(docs) // 50))
    train_docs, held_docs = docs[n_held:], docs[:n_held]
    tokenizer = train_tokenizer(train_docs, p.vocab_size)
    train, held = _pack(tokenizer, train_docs, p.seq_len), _pack(tokenizer, held_docs, p.seq_len)

    torch.manual_seed(world.seed)
    model = LlamaForCausalLM(llama_config(world, tokenizer))  # float32
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    n_params = sum(t.numel() for t in model.parameters())
    # No weight decay on norms: decaying their gains towards 0 only fights the normalisation.
    decay = [t for t in model.parameters() if t.dim() >= 2]
    no_decay = [t for t in model.parameters() if t.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=p.learning_rate,
        betas=(0.9, 0.95),
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, p.warmup_steps, p.steps))
    order = torch.Generator().manual_seed(world.seed)
    perm, pos, losses = torch.randperm(len(train), generator=order), 0, []
    key = cache_key(world, sources)
    done = {"train_s": 0.0, "wall_s": 0.0, "resumed_at": [], "threads": []}
    first = 0
    state = load_state(state_dir, key) if state_dir is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        order.set_state(state["order"])
        perm, pos, losses, first = state["perm"], state["pos"], state["losses"], state["step"]
        done = {k: state[k] for k in done}
        done["resumed_at"] = [*done["resumed_at"], first]
        print(
            f"pretraining: resuming at step {first:,} of {p.steps:,} ({state_dir})", file=sys.stderr
        )
    bar = progress_bar(
        range(first, p.steps), desc="pretrain", disable=not progress, steps=True, dynamic_ncols=True
    )
    t_train = last_save = time.time()
    lines = not progress or frontend() == "batch"  # no per-step bar: a line per saved state
    set_cpu_threads()  # this process's share of the cores (threads.py), re-read during the loop
    done["threads"] = [*done["threads"], torch.get_num_threads()]

    def save(step: int) -> None:
        now = time.time()
        data = {
            "perm": perm,
            "pos": pos,
            "losses": losses,
            **done,
            "train_s": done["train_s"] + now - t_train,
            "wall_s": done["wall_s"] + now - start,
        }
        save_state(state_dir, key, step, model, opt, sched, order, data)

    for step in bar:
        refresh_cpu_threads()
        if pos + p.batch_size > len(perm):  # next epoch, new seeded order
            perm, pos = torch.randperm(len(train), generator=order), 0
        batch = train[perm[pos : pos + p.batch_size]]
        pos += p.batch_size
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 10 == 0 or step == p.steps - 1:
            tok_s = (step + 1 - first) * batch.numel() / (time.time() - t_train)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", tok_s=f"{tok_s:.0f}")
        if state_dir is None or step == p.steps - 1:
            continue
        pause = pause_at_step == step + 1 or (
            pause_after_s is not None and time.time() - t_train >= pause_after_s
        )
        if pause or time.time() - last_save >= CHECKPOINT_EVERY_S:
            save(step + 1)
            last_save = time.time()
            if lines:
                tok_s = (step + 1 - first) * batch.numel() / (last_save - t_train)
                print(
                    f"pretraining: step {step + 1:,} of {p.steps:,}, loss {losses[-1]:.3f}, "
                    f"{tok_s:,.0f} tokens/s, state saved",
                    file=sys.stderr,
                    flush=True,
                )
        if pause:
            bar.close()
            raise BuildPaused(step + 1, p.steps, state_dir)
    train_s = done["train_s"] + time.time() - t_train
    window = max(1, len(losses) // 20)
    chunks = [losses[i : i + window] for i in range(0, len(losses), window)]
    curve = [round(sum(c) / len(c), 4) for c in chunks]
    tail = losses[-window:]

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    import tokenizers
    import transformers

    return {
        "code_version": CODE_VERSION,
        "world": {"seed": world.seed, "pretrain": to_dict(world.pretrain)},
        "corpus": {
            "docs": len(docs),
            "heldout_docs": n_held,
            "train_tokens": train.numel(),
            "heldout_tokens": held.numel(),
            "epochs": round(p.steps * p.batch_size / len(train), 3),
        },
        "vocab_size": len(tokenizer),
        "n_params": n_params,
        "initial_train_loss": losses[0],
        "final_train_loss": sum(tail) / len(tail),  # mean over the last 5% of steps
        "train_loss_curve": curve,  # means over successive 5% windows of the steps
        "heldout_loss": _mean_loss(model, held, p.batch_size),
        "train_tokens_per_s": round(p.steps * p.batch_size * p.seq_len / train_s),
        "wall_s": round(done["wall_s"] + time.time() - start, 1),
        "torch_threads": torch.get_num_threads(),
        "resumed_at_steps": done["resumed_at"],  # steps a paused or killed build went on from
        "threads_per_stretch": done["threads"],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }


def _whole(folder: Path, move: bool = False) -> bool:
    """Whether `folder` holds a whole built model (build info, readable JSON, whole safetensors).
    With `move` (under the build lock), a damaged one is named and moved aside to be replaced
    (copied from the shipped model, else rebuilt)."""
    if not folder.exists():
        return False
    try:
        read_saved_model(folder, "build_info.json", "base model")
        return True
    except (DamagedFileError, FileNotFoundError) as e:
        if move:
            where = move_aside(folder)
            print(
                f"base model {folder} is damaged ({e}); moved aside to {where.name}, replacing it"
            )
        return False


def find_base_model(
    world: WorldConfig,
    progress: bool = True,
    sources: Mapping[str, CorpusSource] | None = None,
    build: bool = True,
    pause_after_s: float | None = None,
) -> tuple[Path | None, str]:
    """`get_base_model`, with where the model came from: "cache", "shipped" (copied from the
    package's `shipped.SHIPPED_ROOT` into the cache now) or "built" (pretrained now); with
    `build=False` and nothing cached nor shipped, (None, "none"). A build is resumable
    (resume.py): it goes on from a killed or paused one, and with `pause_after_s` it stops after
    that much training with `BuildPaused`."""
    sources = default_sources() if sources is None else sources
    key = cache_key(world, sources)
    base = cache_root() / "base"
    final = base / key
    if _whole(final):
        return final, "cache"
    shipped = find_shipped(key)  # a damaged shipped model raises here, naming its file
    if shipped is None and not build:
        return None, "none"
    base.mkdir(parents=True, exist_ok=True)
    with FileLock(str(base / f"{key}.lock")):
        if _whole(final, move=True):  # another process built it while we waited
            return final, "cache"
        remove_stale_temps(base)  # left by a killed build
        for stale in base.glob(f".tmp-{key}-*"):  # the naming of builds before store.py
            shutil.rmtree(stale, ignore_errors=True)
        if shipped is not None:  # copying is not building: `build=False` copies too
            install(shipped, final)
            print(f"base model: using the shipped {shipped} (key {key})", file=sys.stderr)
            return final, "shipped"
        state = partial_dir(final)
        with atomic_folder(final) as tmp:  # readers see a whole model or none
            info = pretrain(world, sources, tmp, progress, state, pause_after_s)
            info["key"] = key
            (tmp / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.rmtree(state, ignore_errors=True)  # the state of a finished build is not needed
    return final, "built"


def get_base_model(
    world: WorldConfig,
    progress: bool = True,
    sources: Mapping[str, CorpusSource] | None = None,
    build: bool = True,
    pause_after_s: float | None = None,
) -> Path | None:
    """The folder of the world's base model and tokenizer: cached, else copied from the shipped
    model of its key, else built (see the docstring); with `build=False`, None when it is neither
    cached nor shipped (nothing is built)."""
    return find_base_model(world, progress, sources, build, pause_after_s)[0]
