"""Loading the paper's datasets, and the base class of the paper profile's tasks.

Every dataset id in `task_options.data` may be a Hub id ("openai/gsm8k"), a local folder (a copy
of the Hub repository, README configs included, or data files named by split: train.jsonl,
test.parquet, ...; not the layout `save_to_disk` writes) or a single local data file
(.jsonl/.json/.parquet/.csv, optionally .gz). All go through `datasets.load_dataset`, so a local
copy is read exactly like the Hub's. With HF_HUB_OFFLINE=1 (set before Python starts) Hub ids
resolve from the caches only: datasets' own, else the Hub cache `huggingface-cli download` fills.
`$BUDGETSPLIT_LOCAL_DATA` names local copies of Hub ids, read in their place while the params (and
so the records) keep the Hub id: "openai/gsm8k=../shared/data/gsm8k" (several joined by commas).
It is the user's word that the copy holds the Hub's rows (the GSM8K files of openai/grade-school-
math are openai/gsm8k's); a copy of other rows is a different dataset and needs its own id.

`PaperTask` turns source rows into the four pools of `budgetsplit.tasks.interface.Task`, deterministically
and without randomness: the validation split is the last `n_val` distinct prompts of the SFT data
(the official code's `train_test_split(test_size=200, shuffle=False)`), and those prompts are removed
from both training pools, so no validation prompt is ever trained on.

    from budgetsplit.tasks.paper.data import load_split
    ds = load_split("../shared/data/gsm8k", "test")        # or "openai/gsm8k", config="main"
"""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

from budgetsplit.config.params import TaskConfig
from budgetsplit.core.store import stream_digest
from budgetsplit.tasks.interface import Task

# datasets' packaged builders, by file suffix, for a single local data file.
_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


class PaperDataError(ValueError):
    """A paper dataset that cannot be loaded or lacks what a task needs; names the id and role."""


LOCAL_DATA = "BUDGETSPLIT_LOCAL_DATA"


def local_copies() -> dict[str, Path]:
    """Hub id -> local copy, from `$BUDGETSPLIT_LOCAL_DATA` (module docstring); PaperDataError
    naming the variable and the entry for one that is not ID=PATH or names no file or folder."""
    spec = os.environ.get(LOCAL_DATA, "").strip()
    out: dict[str, Path] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        repo_id, sep, path = item.partition("=")
        if not (sep and repo_id.strip() and path.strip()):
            raise PaperDataError(f"${LOCAL_DATA} = {spec!r}: {item!r} is not HUB_ID=PATH")
        copy = Path(path.strip()).expanduser()
        if not copy.exists():
            raise PaperDataError(f"${LOCAL_DATA}: {item!r}: no such file or folder {str(copy)!r}")
        out[repo_id.strip()] = copy
    return out


def is_local(data_id: str) -> bool:
    return data_id in local_copies() or Path(data_id).expanduser().exists()


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def load_split(data_id: str, split: str, config: str | None = None, role: str = "data"):
    """One split of a dataset, as a `datasets.Dataset`. `config` picks a configuration where the
    dataset has several (a Hub id, or a local copy of a Hub repository with its README)."""
    from datasets import load_dataset

    copy = local_copies().get(data_id)
    path = copy or Path(data_id).expanduser()
    where = f"task_options.data.{role} = {data_id!r}"
    if copy is not None:
        where += f" (read from {str(copy)!r}, ${LOCAL_DATA})"
    try:
        if path.is_file():
            suffix = (
                path.suffixes[-2]
                if path.suffix == ".gz" and len(path.suffixes) > 1
                else path.suffix
            )
            builder = _BUILDERS.get(suffix.lower())
            if builder is None:
                raise PaperDataError(
                    f"{where}: unsupported file type {path.suffix!r}; use one of {sorted(_BUILDERS)}"
                )
            return load_dataset(builder, data_files={split: str(path)}, split=split)
        dd = _load_dir(path, config) if path.is_dir() else _load_hub(data_id, config)
    except PaperDataError:
        raise
    except Exception as e:  # datasets raises many types; all mean "could not load this id"
        hint = (
            " HF_HUB_OFFLINE=1 is set, so only the Hugging Face caches are searched: download it "
            f"first (`huggingface-cli download --repo-type dataset {data_id}`) or set a local path."
            if hub_offline() and not path.exists()
            else ""
        )
        raise PaperDataError(f"{where}: cannot load: {type(e).__name__}: {e}.{hint}") from e
    if split not in dd:
        raise PaperDataError(f"{where}: no split {split!r}; it has {sorted(dd)}")
    return dd[split]


class _NoCardNotice(logging.Filter):
    # A folder of split files with a README but no YAML header (GSM8K's own repository, copied)
    # is a plain dataset; huggingface_hub warns about the header on every load, dozens of lines
    # in a grid notebook's output.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Repo card metadata block was not found" not in record.getMessage()


logging.getLogger("huggingface_hub.repocard").addFilter(_NoCardNotice())


def _load_dir(path: Path, config: str | None):
    from datasets import get_dataset_config_names, load_dataset

    # A plain folder of split files has one "default" configuration; a Hub repository's copy lists
    # its own in its README.
    return load_dataset(
        str(path), config if config in get_dataset_config_names(str(path)) else None
    )


def _load_hub(data_id: str, config: str | None):
    from datasets import load_dataset

    try:
        return load_dataset(data_id, config)
    except Exception:
        # Offline, datasets reads only what it prepared itself; a repository fetched with
        # `huggingface-cli download` sits in the Hub cache instead, readable as a local copy.
        snapshot = cached_snapshot("dataset", data_id) if hub_offline() else None
        if snapshot is None:
            raise
        return _load_dir(Path(snapshot), config)


def cached_snapshot(kind: str, repo_id: str) -> str | None:
    """The folder of `repo_id` in the Hugging Face Hub cache, or None; never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, repo_type=kind, local_files_only=True)
    except Exception:  # not cached, or not a valid repo id: either way nothing to read
        return None


def require_columns(ds, columns: Iterable[str], data_id: str, role: str, note: str = "") -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise PaperDataError(
            f"task_options.data.{role} = {data_id!r}: missing column(s) {missing}; "
            f"it has {ds.column_names}.{' ' + note if note else ''}"
        )


def prompt_id(text: str) -> str:
    """A stable id of a prompt's text, shared by every pool that holds the same prompt."""
    return stream_digest([text.strip().encode()])


def last_message(messages, data_id: str, role: str, column: str) -> str:
    """The content of the final assistant turn of a message list (Tulu's chosen/rejected/messages)."""
    if not messages or messages[-1].get("role") != "assistant":
        raise PaperDataError(
            f"task_options.data.{role} = {data_id!r}: column {column!r} must be a message list "
            f"ending with an assistant turn; got {str(messages)[:200]}"
        )
    return messages[-1]["content"]


class PaperTask(Task):
    """A task over the paper's datasets. Subclasses set `default_data` (role -> Hub id) and build
    rows; pools are built once, on first use, since the datasets are large."""

    default_data: dict[str, str] = {}
    # Hub configuration to read, by role, where a dataset has several (e.g. GSM8K's "main").
    data_configs: dict[str, str] = {}
    # Whether a validation candidate carries what `score` needs (GSM8K's answer): then the
    # preference prompts with their candidates' gold fields are an RL pool (`rl_pool`).
    gold_candidates: bool = False

    def __init__(self, task_cfg: TaskConfig | None = None):
        cfg = task_cfg or TaskConfig()
        unknown = sorted(set(cfg.data) - set(self.default_data))
        if unknown:
            raise PaperDataError(
                f"task_options.data: unknown role(s) {unknown} for task {self.name!r}; "
                f"known roles: {sorted(self.default_data)}"
            )
        if cfg.label_noise:
            raise PaperDataError(
                f"task_options.label_noise = {cfg.label_noise}: flipping labels is a toy-world "
                "setting; the paper's preference data carry their own annotator noise"
            )
        if cfg.n_val <= 0:
            raise PaperDataError(f"task_options.n_val = {cfg.n_val}: must be > 0")
        self.data = {**self.default_data, **cfg.data}
        self.n_val = cfg.n_val
        self._pools: tuple[list[dict], list[dict], list[dict]] | None = None
        self._test: list[dict] | None = None

    def load(self, role: str, split: str):
        return load_split(self.data[role], split, self.data_configs.get(role), role)

    @classmethod
    def source(cls, role: str, data_id: str) -> tuple[str, str | None]:
        """(dataset id or path, configuration) that a role's data id is read from (preflight checks
        it is here): the id itself, unless a subclass makes the role's data from another."""
        return data_id, cls.data_configs.get(role)

    # ------------------------------------------------------------------ what subclasses build
    @abstractmethod
    def build_train(self) -> tuple[list[dict], list[dict], list[dict]]:
        """(SFT rows, preference rows, validation candidates): the candidates are one eval row per
        distinct SFT prompt, in the SFT data's order; ids are assigned here."""

    @abstractmethod
    def build_test(self) -> list[dict]:
        """Test rows (eval-row format), in the test data's order."""

    # ------------------------------------------------------------------ the Task interface
    def _split_pools(self) -> tuple[list[dict], list[dict], list[dict]]:
        if self._pools is None:
            sft, pref, candidates = self.build_train()
            if len(candidates) <= self.n_val:
                raise PaperDataError(
                    f"task_options.n_val = {self.n_val}: the SFT data ({self.data['sft']!r}) has only "
                    f"{len(candidates)} distinct prompts; nothing would be left to train on"
                )
            val = candidates[-self.n_val :]
            held = {r["prompt_id"] for r in val}
            self._gold = {r["prompt_id"]: r for r in candidates[: -self.n_val]}
            self._pools = (
                _with_ids([r for r in sft if r["prompt_id"] not in held], f"{self.name}-sft"),
                _with_ids([r for r in pref if r["prompt_id"] not in held], f"{self.name}-pref"),
                _with_ids(val, f"{self.name}-val"),
            )
        return self._pools

    def sft_pool(self) -> list[dict]:
        return self._split_pools()[0]

    def pref_pool(self) -> list[dict]:
        return self._split_pools()[1]

    def rl_pool(self) -> list[dict]:
        """The preference pool's prompts, once each, in its order, with the gold fields of the
        training prompt they share (a prompt the SFT data lack has none, and is left out)."""
        if not self.gold_candidates:
            return super().rl_pool()  # the interface's error: no RL pool
        pref = self._split_pools()[1]
        pids = dict.fromkeys(r["prompt_id"] for r in pref if r["prompt_id"] in self._gold)
        return _with_ids([self._gold[p] for p in pids], f"{self.name}-rl")

    def eval_split(self, split: str) -> list[dict]:
        if split == "val":
            return self._split_pools()[2]
        if split == "test":
            if self._test is None:
                self._test = _with_ids(self.build_test(), f"{self.name}-test")
            return self._test
        raise ValueError(f"unknown split {split!r}; use 'val' or 'test'")


def _with_ids(rows: Sequence[dict], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{i}", **r} for i, r in enumerate(rows)]


def check_lengths(rows: Sequence[dict], completions: Sequence[str]) -> None:
    if not rows or len(rows) != len(completions):
        raise ValueError(
            f"score needs one completion per row: {len(rows)} rows, {len(completions)} completions"
        )


def dedupe_by_prompt(rows: Sequence[dict]) -> list[dict]:
    """The first row of each prompt_id, in order."""
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["prompt_id"] not in seen:
            seen.add(r["prompt_id"])
            out.append(r)
    return out
