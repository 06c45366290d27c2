"""GPU training throughput at the paper's scale: a model with the Qwen2.5-0.5B architecture and random
weights (no download), LoRA r=32 on all seven projections, 512-token sequences; our SFT and DPO
settings vs TRL's defaults, in tokens/s, pairs/s, peak memory and MFU against the card's bf16
matmul rate measured here with a large matmul.

    .venv/bin/python bench/gpu.py [--steps 20] [--batch 8]     # needs a CUDA GPU
    .venv/bin/python bench/gpu.py --dry-run                      # CPU, tiny sizes: checks the code

Without a GPU (and without --dry-run) it says so and exits 0. "ours" is `budgetsplit.training.train`
(bf16 weights with LoRA, activation checkpointing only at >= 500M parameters, precomputed DPO
reference log-probs, the Triton LM head); "trl-defaults" is SFTConfig()/DPOConfig() with only batch
size, max_length, the run length and no saving set, on the float32 model a user gets from
`from_config`. MFU counts 2 N FLOPs per token forward and 2 N backward (LoRA: no weight gradients
for frozen weights), N the non-embedding parameters plus the LM head, plus DPO's reference forward.
Writes bench/results/gpu.json and its section of BENCHMARKS.md (not with --dry-run).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import benchlib

benchlib.setup_env()

import torch  # noqa: E402

QWEN25_05B = dict(
    vocab_size=151936,
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
)
TINY = dict(
    QWEN25_05B,
    vocab_size=2048,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)
WORDS = (
    "the river bank holds seven apples while a quiet robot counts stars and writes short "
    "notes about every number it finds near the old bridge"
).split()


def tokenizer():
    from budgetsplit.core.chat import ensure_chat_template
    from budgetsplit.tasks.toyworld.tokenizer import train_tokenizer

    rng = random.Random(0)
    docs = [" ".join(rng.choices(WORDS, k=60)) for _ in range(200)]
    tok = train_tokenizer(docs, vocab_size=1024)
    ensure_chat_template(tok)
    tok.padding_side = "right"
    return tok


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choices(WORDS, k=n_words))


def records(n: int, seq_len: int):
    """SFT and preference records long enough to fill `seq_len` tokens after truncation."""
    rng = random.Random(1)

    def user(k):
        return [{"role": "user", "content": text(rng, k)}]

    def assistant(k):
        return [{"role": "assistant", "content": text(rng, k)}]

    sft = [{"messages": user(seq_len // 2) + assistant(seq_len // 2)} for _ in range(n)]
    pref = [
        {
            "prompt": user(seq_len // 4),
            "chosen": assistant(seq_len // 3),
            "rejected": assistant(seq_len // 3),
        }
        for _ in range(n)
    ]
    return sft, pref


def model(sizes: dict, tok, dtype: torch.dtype, device: str):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from budgetsplit.training.models import align_special_tokens

    torch.manual_seed(0)
    m = Qwen2ForCausalLM(Qwen2Config(**sizes)).to(device=device, dtype=dtype)
    align_special_tokens(m, tok)
    return m


def matmul_tflops(device: str, n: int) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def flops_params(m) -> int:
    emb = m.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in m.parameters()) - emb
    return body + m.get_output_embeddings().weight.numel()  # the tied LM head still multiplies


def run_ours(kind, sizes, tok, recs, stage, lora, device):
    from budgetsplit.config.params import ModelConfig
    from budgetsplit.training.models import resolve_dtype
    from budgetsplit.training.train import train_pft, train_sft

    m = model(sizes, tok, resolve_dtype(ModelConfig(lora=lora), device), device)
    if kind == "sft":
        return train_sft(m, tok, recs, stage, lora, 0, device).throughput["train_runtime_s"]
    return train_pft(m, tok, recs, "dpo", stage, lora, 0, device).throughput["train_runtime_s"]


def run_trl_defaults(kind, sizes, tok, recs, stage, lora, device):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from budgetsplit.training.train import peft_config

    m = model(sizes, tok, torch.float32, device)
    config, trainer = (SFTConfig, SFTTrainer) if kind == "sft" else (DPOConfig, DPOTrainer)
    with tempfile.TemporaryDirectory() as tmp:
        args = config(
            output_dir=tmp,
            report_to="none",
            save_strategy="no",
            num_train_epochs=1,
            per_device_train_batch_size=stage.per_device_batch_size,
            max_length=stage.max_length,
            use_cpu=device == "cpu",
        )
        t = trainer(
            model=m,
            args=args,
            train_dataset=Dataset.from_list(recs),
            processing_class=tok,
            peft_config=peft_config(lora),
        )
        return t.train().metrics["train_runtime"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU; writes nothing")
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per run")
    ap.add_argument("--batch", type=int, default=8, help="sequences (pairs) per step")
    ap.add_argument("--seq-len", type=int, default=512)
    a = ap.parse_args()
    if not a.dry_run and not torch.cuda.is_available():
        print(
            "bench/gpu.py: no CUDA GPU here; nothing to measure (use --dry-run to check the code)"
        )
        return
    load_before = benchlib.loadavg()
    device = "cuda" if not a.dry_run else "cpu"
    sizes, seq_len, steps = (TINY, 64, 2) if a.dry_run else (QWEN25_05B, a.seq_len, a.steps)

    from budgetsplit.config.params import LoraConfig, PFTConfig, StageConfig

    lora = LoraConfig(enabled=True, r=32, alpha=32)
    shape = dict(
        epochs=1.0,
        batch_size=a.batch,
        per_device_batch_size=a.batch,
        max_length=seq_len,
        warmup_ratio=0.0,
    )
    stages = {"sft": StageConfig(**shape, learning_rate=1e-4), "dpo": PFTConfig(**shape)}
    tok = tokenizer()
    sft_recs, pref_recs = records(steps * a.batch, seq_len)
    peak_tflops = matmul_tflops(device, 256 if a.dry_run else 8192)
    n_flops = flops_params(model(sizes, tok, torch.float32, "cpu" if a.dry_run else "meta"))
    rows, results = [], {}
    for kind, recs in (("sft", sft_recs), ("dpo", pref_recs)):
        # Every record fills max_length (DPO: both sides), so tokens per run is exact.
        tokens = len(recs) * seq_len * (2 if kind == "dpo" else 1)
        for name, fn in (("ours", run_ours), ("trl-defaults", run_trl_defaults)):
            if device == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            secs = fn(kind, sizes, tok, recs, stages[kind], lora, device)
            peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
            flops = tokens * n_flops * (4 + (2 if kind == "dpo" else 0))
            r = {
                "s": secs,
                "tokens_per_s": tokens / secs,
                "pairs_per_s": len(recs) / secs,
                "peak_gib": peak,
                "mfu": flops / secs / (peak_tflops * 1e12),
            }
            results[f"{kind}/{name}"] = r
            rate = r["tokens_per_s"] if kind == "sft" else r["pairs_per_s"]
            rows.append(
                [
                    kind.upper(),
                    name,
                    "tokens/s" if kind == "sft" else "pairs/s",
                    rate,
                    r["peak_gib"],
                    f"{r['mfu']:.1%}",
                ]
            )
    md = benchlib.table(["stage", "variant", "unit", "rate", "peak GiB", "MFU"], rows)
    md += (
        f"\n\nQwen2.5-0.5B architecture, random weights ({n_flops / 1e6:.0f}M FLOP-counted "
        f"parameters), LoRA r=32 on all seven projections, {seq_len}-token sequences, batch "
        f"{a.batch}, {steps} steps per run; measured bf16 matmul rate {peak_tflops:.0f} TFLOP/s.\n"
    )
    print(md)
    if a.dry_run:
        print("dry run: code path checked; nothing written")
        return
    data = {
        "args": vars(a),
        "matmul_bf16_tflops": peak_tflops,
        "flop_params": n_flops,
        "results": results,
    }
    print("wrote", benchlib.write_results("gpu", data, load_before, md))


if __name__ == "__main__":
    main()
