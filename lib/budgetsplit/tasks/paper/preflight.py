"""Preflight for the paper profile: fail early, with instructions, when a run cannot work here.

The paper profile trains 1-8B models on the paper's datasets: it needs a CUDA GPU, and every model
and dataset id must be a local folder/file, or be in the Hugging Face cache, or come from a
reachable Hub. `check_paper_ready` checks all of that up front, within a few seconds (the Hub probe
has a hard timeout, DNS included), and raises `PaperNotReady` saying what is missing and how to
pre-download it. With HF_HUB_OFFLINE=1 the Hub is never contacted: only local paths and the cache
count.

    from budgetsplit.config.params import load_params
    from budgetsplit.tasks.paper.preflight import check_paper_ready
    check_paper_ready([load_params("paper", t) for t in ("math", "instruct")])
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence

import torch

from budgetsplit.config.params import Params, made_here, model_params
from budgetsplit.core.registry import paper_class
from budgetsplit.tasks.paper.data import cached_snapshot, hub_offline, is_local

DEFAULT_ENDPOINT = "https://huggingface.co"


class PaperNotReady(RuntimeError):
    """The paper profile cannot run here; the message lists every missing piece and the fix."""


def _ids(params_list: Sequence[Params]) -> dict[tuple[str, str, str | None], list[str]]:
    """(repo type, id, dataset config) -> where the params name it."""
    out: dict[tuple[str, str, str | None], list[str]] = {}
    for p in params_list:
        for mp in model_params(p):  # every model of the model axis
            if not made_here(mp.model.name):
                where = "model.name" if mp.model_label is None else f"models.{mp.model_label}"
                out.setdefault(("model", mp.model.name, None), []).append(f"{p.task}: {where}")
        task = paper_class(p.task)  # p.task is a known task: load_params checked it
        defaults = task.default_data
        for role, data_id in {**defaults, **p.task_options.data}.items():
            kind = "model" if role == "reward_model" else "dataset"
            key = (kind, *task.source(role, data_id))
            out.setdefault(key, []).append(f"{p.task}: task_options.data.{role}")
    return out


def in_hf_cache(kind: str, repo_id: str, config: str | None = None) -> bool:
    """Whether `repo_id` loads without the network: in the Hub cache, or (datasets, offline) in the
    datasets cache of an earlier online `load_dataset`."""
    if cached_snapshot(kind, repo_id) is not None:
        return True
    if kind != "dataset" or not hub_offline():
        return False
    from datasets import load_dataset_builder

    try:
        load_dataset_builder(repo_id, config)
    except Exception:  # not prepared before, or needs a config we cannot guess: not usable
        return False
    return True


def hub_unreachable(endpoint: str, timeout: float) -> str | None:
    """Why the Hub at `endpoint` cannot be reached within `timeout` seconds, or None if it can."""
    result: list[str | None] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout)
            result.append(None)
        except urllib.error.HTTPError:  # the server answered: reachable
            result.append(None)
        except Exception as e:
            result.append(f"{type(e).__name__}: {e}")

    # A thread bounds the whole probe: the socket timeout does not cover DNS resolution.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return result[0] if result else f"no answer within {timeout:g} s"


def check_paper_ready(
    params_list: Sequence[Params],
    timeout: float = 5.0,
    require_gpu: bool | None = None,
    more: Sequence[str] = (),
) -> None:
    """Raise PaperNotReady unless a GPU is present (where a recipe says `device: cuda`, or
    `require_gpu`) and every id in `params_list` can be loaded; `more`: problems found besides."""
    problems: list[str] = []
    if require_gpu is None:  # a recipe on the CPU (real_small) needs none
        require_gpu = any(p.device == "cuda" for p in params_list)
    if require_gpu and not torch.cuda.is_available():
        problems.append(
            "No CUDA GPU: torch.cuda.is_available() is False. The paper profile trains 1-8B models "
            "with LoRA at 1,024 tokens; run it on a machine with an NVIDIA GPU (use the toy or smoke "
            "profile on a CPU)."
        )
    problems += list(more)  # what the caller checked besides (the GGUF wheels: cli/preflight.py)
    ids = _ids(params_list)
    for (kind, repo_id, _), where in ids.items():
        if repo_id.startswith(("/", ".", "~")) and not is_local(repo_id):
            problems.append(f"Local {kind} path {repo_id!r} does not exist ({'; '.join(where)}).")
    remote = {
        key: where
        for key, where in ids.items()
        if not is_local(key[1]) and not key[1].startswith(("/", ".", "~"))
    }
    missing = {key: where for key, where in remote.items() if not in_hf_cache(*key)}
    if missing:
        endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT)
        if hub_offline():
            reason = (
                "HF_HUB_OFFLINE=1 is set, so only local folders and the Hugging Face cache count"
            )
        else:
            why = hub_unreachable(endpoint, timeout)
            reason = None if why is None else f"the Hub at {endpoint} is unreachable ({why})"
        if reason:
            problems.append(_missing_message(reason, missing))
    if problems:
        raise PaperNotReady(
            "The paper profile is not ready to run here:\n\n" + "\n\n".join(problems)
        )


def _missing_message(reason: str, missing: dict[tuple[str, str, str | None], list[str]]) -> str:
    width = max(len(repo_id) for _, repo_id, _ in missing)
    lines = [
        f"{len(missing)} id(s) are neither local paths nor in the Hugging Face cache, and {reason}:"
    ]
    for (kind, repo_id, _), where in sorted(missing.items(), key=str):
        lines.append(f"  {kind:<7} {repo_id:<{width}}  ({'; '.join(where)})")
    lines += [
        "",
        "Fix, on a machine with internet access (gated models need `huggingface-cli login`):",
    ]
    for kind, repo_id in sorted({(kind, repo_id) for kind, repo_id, _ in missing}):
        flag = " --repo-type dataset" if kind == "dataset" else ""
        lines.append(f"  huggingface-cli download{flag} {repo_id}")
    lines += [
        "then either run with HF_HUB_OFFLINE=1 (copy ~/.cache/huggingface/hub along if the GPU machine",
        "is another one), or put each model/dataset in a folder and set its id in the params to that",
        "path, e.g. `models.qwen2_5_1_5b.name: /data/Qwen2.5-1.5B` (`model.name` for a recipe of",
        "one model) or `task_options.data.test: /data/gsm8k`; `--set models={}` runs one model",
        "(a dataset folder is a copy of the Hub repository, e.g. from `huggingface-cli download",
        "--repo-type dataset ID --local-dir DIR`, or data files named by split: train.jsonl, ...).",
    ]
    return "\n".join(lines)
