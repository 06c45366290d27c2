"""Two budgetsplit processes on one machine: does each keep its half? (the thread policy, threads.py)

    .venv/bin/python bench/contention.py [--profile toy] [--task math] [--n-sft 256] [--reps 2]
    .venv/bin/python bench/contention.py --quick --no-write      # a seconds-long smoke check

Each run is real SFT through `budgetsplit.training.train.train_sft` on the toy base model (one epoch, the
profile's batch and max_length) in its own process, which calls `set_cpu_threads()` as a cell does
and re-reads its share at each step (the Trainer callback). Within one invocation, alternating:

- alone:    one process on the whole machine (rate R);
- shared:   two processes at once under the policy (rates r1, r2; each should keep >= 80% of R/2);
- unshared: two processes at once with `$BUDGETSPLIT_THREADS` = every core, torch's default
            before the policy (what the policy prevents; skipped by --quick).

The processes of a pair load their model and warm up on one batch, then start training on the same
signal; each registers in a private runtime folder, so other processes on the machine are not
counted (run it on a quiet machine). A ratio is r / (R / 2) within one repetition; the verdict takes the lowest over processes
and repetitions. Writes bench/results/contention.json and its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

benchlib.setup_env()

TARGET = 0.80  # each of two keeps this much of half the machine's throughput


def worker(a) -> None:
    """One process: load, register, say "ready", wait for the go file, train, print its rate."""
    import copy
    import dataclasses

    from budgetsplit.config.params import load_params, load_world
    from budgetsplit.core import threads
    from budgetsplit.tasks.toyworld import get_toy_task
    from budgetsplit.training.models import load_model
    from budgetsplit.training.train import train_sft

    params = load_params(a.profile, a.task)
    task = get_toy_task(a.task, load_world(a.profile))
    records = task.sft_records(task.sft_pool()[: a.n_sft])
    stage = dataclasses.replace(params.sft, epochs=1.0)
    model, tok = load_model(params.model, a.profile, "cpu")
    # A warm-up stage on one batch: first-call costs (allocator, kernels) stay out of the rate.
    train_sft(
        copy.deepcopy(model), tok, records[: stage.batch_size], stage, params.model.lora, 0, "cpu"
    )
    threads.register()  # counted by the other process before either starts
    print("ready", flush=True)
    while not Path(a.go).exists():
        time.sleep(0.02)
    n_threads = threads.set_cpu_threads(params.cpu_threads)
    out = train_sft(model, tok, records, stage, params.model.lora, 0, "cpu")
    train_s = out.throughput["train_runtime_s"]
    print(
        json.dumps(
            {"examples_per_s": len(records) / train_s, "train_s": train_s, "threads": n_threads}
        ),
        flush=True,
    )


def run(a, n: int, share: bool) -> list[dict]:
    """`n` worker processes started together; their results."""
    with tempfile.TemporaryDirectory(prefix="budgetsplit-contention-") as tmp:
        env = {**os.environ, "BUDGETSPLIT_RUNTIME": tmp}
        env.pop("BUDGETSPLIT_THREADS", None)
        if not share:
            env["BUDGETSPLIT_THREADS"] = str(benchlib.machine()["cores"])
        go = Path(tmp) / "go"
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--go",
            str(go),
            "--profile",
            a.profile,
            "--task",
            a.task,
            "--n-sft",
            str(a.n_sft),
        ]
        procs = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)
        ]
        try:
            for p in procs:
                if p.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"worker exited before training (code {p.wait()})")
            go.touch()
            return [json.loads(p.stdout.readline()) for p in procs]
        except BaseException:
            for p in procs:
                p.kill()
            raise
        finally:
            for p in procs:
                p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="toy", help="toy world profile (toy or smoke)")
    ap.add_argument("--task", default="math")
    ap.add_argument("--n-sft", type=int, default=256, help="SFT examples per process (one epoch)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument(
        "--quick", action="store_true", help="smoke profile, 16 examples, 1 rep, no unshared"
    )
    ap.add_argument("--no-write", action="store_true", help="print only; no JSON, no BENCHMARKS.md")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--go", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    if a.quick:
        a.profile, a.n_sft, a.reps = "smoke", 16, 1
    load_before = benchlib.loadavg()
    variants = {"alone": lambda: run(a, 1, True), "shared": lambda: run(a, 2, True)}
    if not a.quick:
        variants["unshared"] = lambda: run(a, 2, False)
    runs = benchlib.interleaved(variants, a.reps)

    summary, rows = {}, []
    for name, reps in runs.items():
        # Each process of a pair against half of the lone process's rate in the same repetition.
        ratios = [
            [r["examples_per_s"] / (alone[0]["examples_per_s"] / 2) for r in pair]
            for alone, pair in zip(runs["alone"], reps, strict=True)
        ]
        s = summary[name] = {
            "rate_median": benchlib.median([r["examples_per_s"] for rep in reps for r in rep]),
            "threads": sorted({r["threads"] for rep in reps for r in rep}),
        }
        if name != "alone":
            s.update(ratios=ratios, ratio_min=min(map(min, ratios)))
        rows.append(
            [
                name,
                len(reps[0]),
                ", ".join(map(str, s["threads"])),
                s["rate_median"],
                f"{s['ratio_min']:.0%}" if "ratio_min" in s else "-",
            ]
        )
    met = summary["shared"]["ratio_min"] >= TARGET
    md = benchlib.table(
        [
            "variant",
            "processes",
            "threads each",
            "examples/s each (median)",
            "lowest vs half of alone",
        ],
        rows,
    )
    md += (
        f"\n\nToy profile `{a.profile}`, task `{a.task}`: SFT on {a.n_sft} examples per process, "
        f"one epoch, {a.reps} interleaved repetitions. Target: each of two processes under the "
        f"thread policy keeps >= {TARGET:.0%} of half the throughput of one alone: "
        f"{summary['shared']['ratio_min']:.0%}, {'met' if met else 'NOT met'}.\n"
    )
    print(md)
    if not a.no_write:
        data = {"args": vars(a), "target": TARGET, "met": met, "summary": summary, "runs": runs}
        print("wrote", benchlib.write_results("contention", data, load_before, md))


if __name__ == "__main__":
    main()
