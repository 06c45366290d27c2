"""Shared helpers of the benchmark scripts in bench/: environment set-up, the machine record, timing
of interleaved repetitions, the JSON result file and the script's section of BENCHMARKS.md.

Not a benchmark itself; each script (`python bench/<name>.py`) imports it from its own folder.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from budgetsplit.run.speed import cpu_model, tokens_per_s

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
_LIBS = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers")


def setup_env() -> None:
    """No Hub; the repo-local model cache the tests use; quiet progress bars. Call before imports."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("BUDGETSPLIT_CACHE", str(ROOT / ".cache" / "budgetsplit"))
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def machine() -> dict:
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = {
        "cpu": cpu_model(),
        # budgetsplit.run.speed: what makes times comparable across machines (cached once measured)
        "bare_loop_tokens_per_s": round(tokens_per_s()),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def versions() -> dict:
    out = {}
    for lib in _LIBS:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def timed(into: dict, key: str):
    t = time.perf_counter()
    yield
    into[key] = time.perf_counter() - t


def interleaved(variants: dict, reps: int) -> dict[str, list]:
    """Run each variant `reps` times, alternating them (rotating the order every repetition) so
    that a change in machine load hits all of them alike; returns each variant's results in order."""
    names = list(variants)
    out: dict[str, list] = {n: [] for n in names}
    for r in range(reps):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            print(f"  rep {r + 1}/{reps}: {n}", file=sys.stderr, flush=True)
            out[n].append(variants[n]())
    return out


def median(xs) -> float:
    return float(statistics.median(xs))


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (also readable on a terminal)."""

    def cell(x):
        if isinstance(x, float):
            return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict, load_before: list[float], markdown: str) -> Path:
    """bench/results/<name>.json (with machine, command, versions, load) and the script's section
    of BENCHMARKS.md, between `<!-- BEGIN name -->` and `<!-- END name -->` markers."""
    record = {
        "benchmark": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "versions": versions(),
        **data,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    m = record["machine"]
    header = (
        f"Measured {record['date']} on {m['cpu']} ({m['cores']} cores, "
        f"{m['torch_threads']} torch threads; bare loop {m['bare_loop_tokens_per_s']:,} tokens/s "
        f"on one thread, `budgetsplit speed`); load average (1/5/15 min) "
        f"{load_before} before, {record['load_average_after']} after. "
        f"Command: `{record['command']}`; raw numbers in `bench/results/{name}.json`."
    )
    _update_section(name, header + "\n\n" + markdown.strip() + "\n")
    return path


def _update_section(name: str, body: str) -> None:
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.is_file() else "# Benchmarks\n"
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"
    BENCHMARKS_MD.write_text(text)
