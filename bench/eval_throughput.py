"""Generation throughput of evaluation on the toy base model: our batched `generate` (left-padded,
length-sorted batches, KV cache) vs the same function one prompt at a time, in generated tokens/s.

    .venv/bin/python bench/eval_throughput.py [--profile toy] [--task math] [--n 64] [--threads 1]

Both use `budgetsplit.training.evaluate.generate` with the recipe's EvalConfig (greedy, its max_new_tokens);
"one at a time" sets batch_size 1. The two alternate over the repetitions; the speed-up is taken
per repetition, then the median. Also reports how many greedy completions agree exactly (padding
can change float rounding, so a few may differ). Also times the cold-start diagnostic
`response_logprobs` on its fixed sample (`cold_start_pairs`), which every starting model runs once.
Writes bench/results/eval_throughput.json and its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import benchlib

benchlib.setup_env()

import torch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="toy", help="toy world profile (toy or smoke)")
    ap.add_argument("--task", default="math")
    ap.add_argument("--n", type=int, default=64, help="test prompts")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--no-write", action="store_true", help="print only; no JSON, no BENCHMARKS.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load_before = benchlib.loadavg()

    from budgetsplit.config.params import load_params, load_world
    from budgetsplit.tasks.toyworld import get_toy_task
    from budgetsplit.training.evaluate import generate, logprob_sample, response_logprobs
    from budgetsplit.training.models import load_model

    params = load_params(a.profile, a.task)
    task = get_toy_task(a.task, load_world(a.profile))
    model, tok = load_model(params.model, a.profile, "cpu")
    convs = [task.prompt_messages(r["prompt"]) for r in task.eval_split("test")[: a.n]]
    configs = {
        "batched": params.eval,
        "one at a time": dataclasses.replace(params.eval, batch_size=1),
    }
    texts = {}

    def run(name):
        t = time.perf_counter()
        texts[name], lengths, _ = generate(model, tok, convs, configs[name])
        return {"s": time.perf_counter() - t, "tokens": sum(lengths)}

    runs = benchlib.interleaved({n: (lambda n=n: run(n)) for n in configs}, a.reps)
    t = time.perf_counter()
    diag = response_logprobs(
        model, tok, task, logprob_sample(task.pref_pool(), params.cold_start_pairs)
    )
    diag_s = time.perf_counter() - t

    summary = {
        name: {
            "tokens_per_s": benchlib.median([r["tokens"] / r["s"] for r in reps]),
            "prompts_per_s": benchlib.median([len(convs) / r["s"] for r in reps]),
            "speedup": benchlib.median(
                [o["s"] / r["s"] for r, o in zip(reps, runs["one at a time"], strict=True)]
            ),
        }
        for name, reps in runs.items()
    }
    agree = sum(x == y for x, y in zip(texts["batched"], texts["one at a time"], strict=True))
    rows = [
        [name, configs[name].batch_size, s["tokens_per_s"], s["prompts_per_s"], s["speedup"]]
        for name, s in summary.items()
    ]
    md = benchlib.table(["variant", "batch", "tokens/s", "prompts/s", "speed-up"], rows)
    md += (
        f"\n\nProfile `{a.profile}`, task `{a.task}`: {len(convs)} test prompts, greedy, "
        f"max_new_tokens {params.eval.max_new_tokens}; {a.reps} interleaved repetitions, medians. "
        f"Identical completions: {agree}/{len(convs)}. Cold-start diagnostic "
        f"(`response_logprobs`, {diag['n_pairs']} pairs): {diag_s:.2f} s.\n"
    )
    print(md)
    if not a.no_write:
        data = {
            "args": vars(a),
            "summary": summary,
            "identical_completions": agree,
            "n_prompts": len(convs),
            "response_logprobs_s": diag_s,
            "runs": runs,
        }
        print("wrote", benchlib.write_results("eval_throughput", data, load_before, md))


if __name__ == "__main__":
    main()
