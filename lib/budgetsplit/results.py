"""The results table: one row per cell record of a profile (`<output_dir>/<profile>/results.parquet`
and `.csv`, always rebuilt from the records), and the views the figures read from it.

    from budgetsplit import plots, results
    df = results.results_table("runs", "toy")          # every task's cells of the profile
    results.best_fraction(plots.prepare(df), "score")  # best SFT fraction per budget and method
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def _flat(prefix: str, d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(f"{prefix}{k}.", v))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def _flatten(rec: dict) -> dict:
    """One table row of a record: the cell, sizes, and every metric, diagnostic and timing."""
    row = {
        "profile": rec["params"]["profile"],
        **rec["cell"],
        "n_sft": rec["n_sft"],
        "n_pref": rec["n_pref"],
        "spent": rec["spent"],
        "sft_reused": rec.get("sft_reused"),
        "primary_metric": rec.get("primary_metric"),
    }
    row.update(_flat("metric.", rec.get("metrics", {})))
    row.update(_flat("diag.", rec.get("diagnostics", {})))
    row.update(_flat("time.", rec.get("wall_s", {})))
    return row


def load_records(output_dir: str | Path, profile: str) -> list[dict]:
    paths = sorted(Path(output_dir, profile).glob("*/cells/*.json"))
    return [json.loads(p.read_text()) for p in paths]


def results_table(output_dir: str | Path, profile: str) -> pd.DataFrame:
    """Rebuild `<output_dir>/<profile>/results.{parquet,csv}` from every cell record."""
    rows = [_flatten(r) for r in load_records(output_dir, profile)]
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["task", "budget", "sft_fraction", "method", "seed"], kind="stable")
        df = df.reset_index(drop=True)
    out = Path(output_dir, profile)
    out.mkdir(parents=True, exist_ok=True)
    for suffix, write in ((".parquet", df.to_parquet), (".csv", df.to_csv)):
        tmp = out / f"results{suffix}.tmp"
        write(tmp, index=False)
        tmp.replace(out / f"results{suffix}")
    return df


def per_method(df: pd.DataFrame) -> pd.DataFrame:
    """SFT-only cells (method "sft") belong to every method's curve: copy them once per method."""
    methods = sorted(set(df["method"]) - {"sft"})
    if not methods:
        return df
    sft = df[df["method"] == "sft"]
    copies = [sft.assign(method=m) for m in methods]
    return pd.concat([df[df["method"] != "sft"], *copies], ignore_index=True)


def best_fraction(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (task, method, cost ratio, budget): the SFT fraction with the best mean metric over seeds."""
    keys = ["task", "method", "cost_ratio", "budget"]
    df = per_method(df)
    mean = df.groupby(keys + ["sft_fraction"], dropna=False)[metric].mean().reset_index()
    idx = mean.groupby(keys, dropna=False)[metric].idxmax()
    return mean.loc[idx].reset_index(drop=True)
