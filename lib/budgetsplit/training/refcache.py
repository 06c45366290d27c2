"""Precomputed reference log-probs kept on disk, so that DPO-family cells with the same pairs and
the same starting model compute them once (budgetsplit.training.train uses it for dpo, ipo and dpo_sft).

    from budgetsplit.training.refcache import dpo_trainer_class
    trainer_cls = dpo_trainer_class(layout.ref_logps_dir("math"))   # None: TRL's DPOTrainer as is

Files: `<folder>/ref_logps-<key>.safetensors` (two float32 columns); a damaged one is named, moved
aside and recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from datasets import Value

from budgetsplit.core.store import atomic_file, move_aside, stream_digest


def dpo_trainer_class(ref_cache: Path | None):
    """TRL's DPOTrainer, or (with `ref_cache`) one that keeps its precomputed reference log-probs
    in that folder and reads them back.

    The key is what the log-probs depend on: the tokenized pairs, TRL's hash of the reference
    weights, and what batching and truncation can change. The loss is not in it, so the cells that
    differ only in the PFT method (dpo, ipo, dpo_sft at one split) compute them once: the slowest
    part of a small DPO stage (3 s of 10 s for 300 toy pairs). TRL's own cache cannot do this:
    its key folds in the trainer's arguments, the loss among them.
    """
    from safetensors.torch import save_file
    from trl import DPOTrainer

    if ref_cache is None:
        return DPOTrainer

    class CachedRefDPOTrainer(DPOTrainer):
        def _precompute_ref_logps(self, dataset, name, batch_size):
            a = self.args
            pairs = dataset.select_columns(["prompt_ids", "chosen_ids", "rejected_ids"]).to_dict()
            what = [
                pairs,
                self._precompute_model_hash,
                a.max_length,
                a.truncation_mode,
                a.pad_to_multiple_of,
                batch_size,
                str(self.model.dtype),
            ]
            key = stream_digest([json.dumps(what).encode()], n=24)
            path = Path(ref_cache) / f"ref_logps-{key}.safetensors"
            cols = ("ref_chosen_logps", "ref_rejected_logps")
            cached = read_ref_cache(path, cols, len(dataset))
            if cached is not None:
                for col in cols:  # float32, as TRL stores them: training reads identical numbers
                    dataset = dataset.add_column(col, cached[col].numpy(), feature=Value("float32"))
                return dataset
            out = super()._precompute_ref_logps(dataset, name, batch_size)
            with atomic_file(path) as tmp:  # parallel cells never read half a file
                save_file({c: torch.tensor(out[c], dtype=torch.float32) for c in cols}, str(tmp))
            return out

    return CachedRefDPOTrainer


def read_ref_cache(path: Path, cols: tuple[str, ...], n: int) -> dict | None:
    """The cached reference log-probs in `path`, or None when there are none; a damaged file (not
    safetensors, columns missing or of the wrong length) is named, moved aside and recomputed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        t = load_file(str(path))
        if any(c not in t or t[c].shape != (n,) for c in cols):
            raise SafetensorError(f"expected columns {list(cols)} of {n} values each")
        return t
    except SafetensorError as e:
        where = move_aside(path)
        print(f"reference log-prob cache {path} is damaged ({e}); moved aside to {where.name}")
        return None
