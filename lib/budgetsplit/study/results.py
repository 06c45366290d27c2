"""The results table: one row per cell record of a profile (`results.parquet` and `.csv` in the
profile's folder, always rebuilt from the records) and the per-row score table the statistics
read. What the tables say (best splits, intervals) is budgetsplit.analysis.verdicts's.

A table row holds the cell, its sizes, `base_model`, every metric (`metric.*`), diagnostic (`diag.*`)
and timing (`time.*`), and a `setting.<dotted key>` column for every result setting that varies
across the profile's records (so results of different settings can never pass for one another).

    from budgetsplit.study import results
    df = results.results_table("runs", "toy")          # every task's cells of the profile
    rows = results.row_scores_table("runs", "toy")     # one row per cell and eval row

The per-row score table holds each task's floor of cheap outputs too (study/floors.py: method
"floor", its name in `output`), computed from the task on the rows its records were scored on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from budgetsplit.config.params import Params, load_params
from budgetsplit.config.schema import build
from budgetsplit.core.layout import RunLayout, committed_results_dir
from budgetsplit.core.store import atomic_file, move_aside
from budgetsplit.study import floors
from budgetsplit.study.cells import CELL_KEY, FLOOR, MODEL
from budgetsplit.study.records import (
    DamagedRecordError,
    Record,
    flat_settings,
    load_record,
    result_settings,
)
from budgetsplit.tasks import get_task


def _flat(prefix: str, d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(f"{prefix}{k}.", v))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def _settings(rec: Record) -> dict:
    """A record's result settings, flat, as table values (lists as JSON text)."""
    flat = flat_settings(result_settings(rec.params))
    return {
        k: json.dumps(v) if isinstance(v, list) else v
        for k, v in flat.items()
        if k not in ("task", "profile")
    }


def _flatten(rec: Record, settings: dict) -> dict:
    """One table row of a record: the cell, sizes, the settings given, and every metric,
    diagnostic and timing."""
    row = {
        "profile": rec.params["profile"],
        **{k: getattr(rec.cell, k) for k in CELL_KEY},
        MODEL: rec.cell.model,
        "n_sft": rec.n_sft,
        "n_pref": rec.n_pref,
        "spent": rec.spent,
        "sft_reused": rec.sft_reused,
        "primary_metric": rec.primary_metric,
        "base_model": rec.base_model,
    }
    row.update({f"setting.{k}": v for k, v in settings.items()})
    row.update(_flat("metric.", rec.metrics))
    row.update(_flat("diag.", rec.diagnostics))
    row.update(_flat("time.", rec.wall_s))
    row.update(_flat("compute.", rec.compute))
    return row


def load_records(output_dir: str | Path, profile: str, replace: bool = False) -> list[Record]:
    """Every cell record of a profile; FileNotFoundError naming the folder when there is none, and
    a damaged one stops with `records.DamagedRecordError` naming it (with `replace` it is named,
    moved aside and left out, for the grid to redo)."""
    layout = RunLayout(output_dir, profile)
    paths = layout.record_paths()
    if not paths:
        raise FileNotFoundError(
            f"no cell records under {layout.profile_dir} (output_dir resolved to "
            f"{layout.output_dir}): run the grid of profile {profile!r} first"
        )
    records = []
    for path in paths:
        try:
            records.append(load_record(path))
        except DamagedRecordError as e:
            if not replace:
                raise
            where = move_aside(path, "replaced").name
            print(f"moved aside: {path} ({e.problem}) -> {where}; the grid redoes its cell")
    return records


def results_table(output_dir: str | Path, profile: str, replace: bool = False) -> pd.DataFrame:
    """Rebuild the profile's `results.{parquet,csv}` from every cell record; returns the table.
    `replace`: damaged records are moved aside and left out (`load_records`)."""
    records = load_records(output_dir, profile, replace=replace)
    settings = [_settings(r) for r in records]
    keys = sorted({k for s in settings for k in s})
    varying = [k for k in keys if len({json.dumps(s.get(k)) for s in settings}) > 1]
    rows = [
        _flatten(r, {k: s.get(k) for k in varying}) for r, s in zip(records, settings, strict=True)
    ]
    df = pd.DataFrame(rows)
    order = ["task", MODEL, "budget", "sft_fraction", "method", "seed"]
    df = df.sort_values(order, kind="stable", na_position="first")
    df = df.reset_index(drop=True)
    layout = RunLayout(output_dir, profile)
    for suffix, write in ((".parquet", df.to_parquet), (".csv", df.to_csv)):
        with atomic_file(layout.results_path(suffix)) as tmp:
            write(tmp, index=False)
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """What a results table holds, a line per task and method: cells, budgets, fractions and seeds
    run, and the range of the task's primary metric over its cells (`budgetsplit table` prints it)."""
    rows = []
    for (task, method), g in df.groupby(["task", "method"], sort=True):
        metric = g["primary_metric"].iloc[0]
        values = g[f"metric.{metric}"]
        rows.append(
            {
                "task": task,
                "method": method,
                "cells": len(g),
                "budgets": g["budget"].nunique(),
                "fractions": g["sft_fraction"].nunique(),
                "seeds": g["seed"].nunique(),
                "metric": metric,
                "min": values.min(),
                "mean": values.mean(),
                "max": values.max(),
            }
        )
    return pd.DataFrame(rows)


def read_results(output_dir: str | Path, profile: str) -> pd.DataFrame:
    """The profile's results table as last written (no rebuild); a clear error naming the absolute
    path looked in when there is none."""
    return with_model(pd.read_parquet(RunLayout(output_dir, profile).require_results(".parquet")))


def with_model(df: pd.DataFrame) -> pd.DataFrame:
    """A table of cells with its `model` column (None: the one model), which tables written
    before the model axis lack; missing values as None, so no label reads "nan"."""
    if MODEL not in df:
        at = list(df.columns).index("cost_ratio") + 1 if "cost_ratio" in df else len(df.columns)
        df = df.copy()
        df.insert(at, MODEL, None)
    return df.assign(**{MODEL: df[MODEL].astype(object).where(df[MODEL].notna(), None)})


def models_in(df: pd.DataFrame) -> list[str | None]:
    """The models a table of cells holds, in order of first appearance (floor rows left out:
    they are every model's)."""
    cells = with_model(df)
    if "method" in cells:
        cells = cells[cells["method"] != FLOOR]
    return list(dict.fromkeys(cells[MODEL]))


def model_rows(df: pd.DataFrame, model: str | None) -> pd.DataFrame:
    """The rows of one model of a table (results or per-row scores), with the floor rows, which
    are every model's: what the analysis of that model reads. `model` None on a table of one
    model is the whole table; a table of several needs a label (ValueError naming them)."""
    df, models = with_model(df), models_in(df)
    if model is None:
        if len(models) > 1:
            raise ValueError(
                f"the table holds several models ({', '.join(map(str, models))}): name one"
            )
        return df
    if model not in models:
        raise ValueError(f"no cells of model {model!r}; the table holds {models}")
    keep = df[MODEL] == model
    if "method" in df:
        keep |= df["method"] == FLOOR
    return df[keep].reset_index(drop=True)


ROW_SCORE_COLUMNS = [
    "profile",
    *CELL_KEY,
    MODEL,
    "n_sft",
    "n_pref",
    "metric",
    "split",
    "ids_digest",
    "row",
    "score",
    "output",  # the floor's cheap output (method "floor"); empty for a model's cells
]


def row_scores_table(output_dir: str | Path, profile: str) -> pd.DataFrame:
    """Per-row scores of every record that has them, long: one row per cell and eval row
    (`ROW_SCORE_COLUMNS`), and each task's floor (`with_floors`, on the rows its records were
    scored on). Cells with equal `ids_digest` were scored on the same rows in the same order, so
    `row` pairs them. Records written before per-row scores existed are left out."""
    parts, settings = [], {}
    for rec in load_records(output_dir, profile):
        rs = rec.row_scores
        if not rs:
            continue
        settings.setdefault(rec.cell.task, rec.params)
        cell = {k: getattr(rec.cell, k) for k in CELL_KEY} | {MODEL: rec.cell.model}
        part = pd.DataFrame({"row": range(len(rs["values"])), "score": rs["values"]})
        fixed = {
            "profile": rec.params["profile"],
            **cell,
            "n_sft": rec.n_sft,
            "n_pref": rec.n_pref,
            "metric": rs["metric"],
            "split": rs["split"],
            "ids_digest": rs["ids_digest"],
        }
        parts.append(part.assign(**fixed))
    if not parts:
        return pd.DataFrame(columns=ROW_SCORE_COLUMNS)
    return with_floors(pd.concat(parts, ignore_index=True), profile, settings)


def with_floors(scores: pd.DataFrame, profile: str, settings: dict[str, Params]) -> pd.DataFrame:
    """`scores` with the floor rows of every task in `settings` ({task: the params its cells ran
    with, as a record stores them or as Params}) that has none yet, in `ROW_SCORE_COLUMNS`."""
    have = set(scores.loc[scores["method"] == FLOOR, "task"]) if "method" in scores else set()
    parts = [scores.assign(output=scores.get("output"))]
    for name in sorted(set(settings) - have):
        p = settings[name]
        p = p if isinstance(p, Params) else build(Params, p, f"a record's params ({name})")
        rows = floors.floor_rows(get_task(p), p.eval, profile)
        digests = set(scores.loc[scores["task"] == name, "ids_digest"])
        if rows["ids_digest"].iloc[0] not in digests:
            raise ValueError(
                f"task {name!r} of profile {profile!r}: its floor is scored on other rows "
                f"(ids_digest {rows['ids_digest'].iloc[0]}) than its cells ({sorted(digests)}); "
                "the task or its eval settings changed since the cells ran"
            )
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)[ROW_SCORE_COLUMNS]


def committed_tables(profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results table, per-row scores) of a profile as `export` committed them, to judge its
    verdicts from a clone without its records; FileNotFoundError naming the folder if none."""
    folder = committed_results_dir(profile)
    if not (folder / "results.csv").is_file():
        raise FileNotFoundError(f"no committed results table at {folder / 'results.csv'}")
    path = folder / "row_scores.parquet"
    table = with_model(pd.read_csv(folder / "results.csv"))
    if not path.is_file():
        return table, pd.DataFrame(columns=ROW_SCORE_COLUMNS)
    scores = with_model(pd.read_parquet(path))
    # tables exported before floors joined them: each task's floor, from its recipe's settings
    settings = {t: load_params(profile, t) for t in set(scores["task"]) - {None}}
    return table, with_floors(scores, profile, settings)


def tables(output_dir: str | Path, profile: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(results table, per-row scores, where they came from) of a profile: rebuilt from its
    records, else (a fresh clone) its committed tables; FileNotFoundError naming the records'
    folder when there are neither."""
    try:
        table = results_table(output_dir, profile)
        scores = row_scores_table(output_dir, profile)
        return table, scores, f"the records under {RunLayout(output_dir, profile).profile_dir}"
    except FileNotFoundError as no_records:
        try:
            table, scores = committed_tables(profile)
        except FileNotFoundError:
            raise no_records from None
        return table, scores, f"the committed tables of {profile} (no records: {no_records})"


def export(output_dir: str | Path, profile: str) -> list[Path]:
    """Write the profile's tables where they are committed beside its figures
    (`layout.committed_results_dir`): `results.csv` (one row per cell) and `row_scores.parquet`
    (per-row scores, compressed), so figures, claims and the advisor can be rebuilt and checked
    without retraining. Returns the files written."""
    folder = committed_results_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with atomic_file(folder / "results.csv") as tmp:
        results_table(output_dir, profile).to_csv(tmp, index=False)
    written.append(folder / "results.csv")
    scores = row_scores_table(output_dir, profile)
    if not scores.empty:
        with atomic_file(folder / "row_scores.parquet") as tmp:
            scores.to_parquet(tmp, index=False, compression="zstd")
        written.append(folder / "row_scores.parquet")
    return written
