"""Calibrate the toy world once, on the validation split (never the test split, never per cell).

    python scripts/calibrate_toy.py --task math base           # the base model's floor
    python scripts/calibrate_toy.py --task math sft --lr 3e-4 1e-3 3e-3 --n 1000
    python scripts/calibrate_toy.py --task math dpo --lr 2e-5 1e-4 --beta 0.1 0.5 --n 1000 --frac 0.1

Every run is a real cell (or a plain evaluation for `base`) on `eval.split: val`, written under
runs/calibration/; one line per run is appended to runs/calibration/summary.jsonl. The choices made
from these numbers, and the numbers, are in docs/toyworld.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from budgetsplit.cell import Cell, run_cell
from budgetsplit.config import load_params
from budgetsplit.evaluate import evaluate_model
from budgetsplit.models import load_model, resolve_device, set_cpu_threads
from budgetsplit.tasks import get_task

OUT = Path("runs/calibration")


def log(row: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "summary.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["base", "sft", "dpo"])
    ap.add_argument("--task", required=True)
    ap.add_argument("--profile", default="toy")
    ap.add_argument("--lr", type=float, nargs="*", default=[])
    ap.add_argument("--beta", type=float, nargs="*", default=[0.1])
    ap.add_argument("--n", type=int, default=1000, help="budget in examples")
    ap.add_argument("--frac", type=float, default=0.1, help="SFT fraction for dpo runs")
    ap.add_argument("--method", default="dpo", help="PFT method of dpo-stage runs")
    ap.add_argument("--sft-lr", type=float, default=None)
    ap.add_argument("--set", nargs="*", default=[], help="extra key=value overrides (YAML values)")
    args = ap.parse_args()
    import yaml

    extra = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    base = {"eval.split": "val", "eval.n_examples": None, "output_dir": str(OUT), **extra}
    if args.sft_lr:
        base["sft.learning_rate"] = args.sft_lr
    if args.stage == "base":
        params = load_params(args.profile, args.task, overrides=base)
        set_cpu_threads(params.cpu_threads)
        model, tok = load_model(params.model, params.profile, resolve_device(params.device))
        t = time.time()
        res = evaluate_model(model, tok, get_task(params), params.eval)
        log({"task": args.task, "stage": "base", **res["metrics"], "format_rate": res["format_rate"],
             "mean_len": res["mean_length_tokens"], "s": round(time.time() - t, 1)})  # fmt: skip
        return
    grid = [(lr, None) for lr in args.lr] if args.stage == "sft" else [
        (lr, b) for lr in args.lr for b in args.beta
    ]  # fmt: skip
    for lr, beta in grid:
        over = dict(base)
        if args.stage == "sft":
            over["sft.learning_rate"] = lr
            cell = Cell(args.task, "sft", args.n, 1.0, 0)
        else:
            over.update({"pft.learning_rate": lr, "pft.beta": beta})
            cell = Cell(args.task, args.method, args.n, args.frac, 0)
        tag = f"{args.stage}-{args.method}-lr{lr:g}" + (f"-b{beta:g}" if beta else "")
        if args.stage == "dpo":
            tag += f"-sftlr{over.get('sft.learning_rate', 'default')}"
        over["output_dir"] = str(OUT / tag)  # one folder per setting: records are keyed by cell
        params = load_params(args.profile, args.task, overrides=over)
        t = time.time()
        rec = run_cell(params, cell)
        d = rec["diagnostics"]
        log({"task": args.task, "stage": args.stage, "method": cell.method, "lr": lr, "beta": beta, "n_sft": rec["n_sft"],
             "n_pref": rec["n_pref"], "sft_lr": params.sft.learning_rate,
             "sft_batch": params.sft.batch_size, "pft_batch": params.pft.batch_size, **rec["metrics"],
             "format_rate": d["format_rate"], "mean_len": d["mean_length_tokens"],
             "pft": d.get("pft"), "s": round(time.time() - t, 1)})  # fmt: skip


if __name__ == "__main__":
    main()
