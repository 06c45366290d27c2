"""IFEval scoring with lm-eval's own instruction checkers, offline and deterministic.

A thin wrapper around `lm_eval.tasks.ifeval` (instructions, registry and its strict/loose tests),
shared by the toy world's instruct task and the paper profile's real IFEval, so both score
instruction following with exactly the code lm-eval's `ifeval` task runs.

    from budgetsplit.tasks import ifeval
    strict, loose = ifeval.check("* a\n* b", ["detectable_format:number_bullet_lists"],
                                 [{"num_bullets": 2}])
    ifeval.aggregate([(strict, loose), ...])   # the four IFEval accuracies
    ifeval.follows("the sea.", "change_case:english_lowercase", {})   # one strict verdict

What we found about lm-eval 0.4.13 offline (nltk 3.10):
- Importing `lm_eval.tasks.ifeval.instructions_util` calls `nltk.download("punkt_tab")` when the
  resource is missing. Here that fails fast (the sandbox refuses the host), prints a false
  "Downloaded punkt_tab" line and leaves nothing installed; where packets are silently dropped it
  could block for nltk's socket timeout (120 s). We import it with nltk.download switched off;
  code that imports lm-eval's ifeval task before this module does not get that protection.
- Only two instructions read NLTK data, both through `tokenizers/punkt_tab` (plain tables, no
  pickle: nltk >= 3.9 answers lm-eval's `punkt/english.pickle` request with the pickle-free
  PunktTokenizer): `length_constraints:number_sentences` and `change_case:capital_word_frequency`.
  Without punkt_tab they raise `MissingNLTKData` here, naming the resource and how to install it.
  Every other instruction (word counts use a regex tokenizer) works offline.
- The case instructions (`change_case:english_lowercase` / `english_capital`) and
  `language:response_language` call langdetect, whose profiles ship with the package, but whose
  detector is random unless seeded: we seed it (DetectorFactory.seed = 0) so scores are repeatable.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence

import langdetect
import nltk

# Unseeded, langdetect can call the same short text English on one run and Dutch on the next.
langdetect.DetectorFactory.seed = 0

NLTK_RESOURCE = "tokenizers/punkt_tab"
NEEDS_NLTK = frozenset(
    {"length_constraints:number_sentences", "change_case:capital_word_frequency"}
)


class MissingNLTKData(LookupError):
    """An instruction needs NLTK data that is not installed (and is never downloaded here)."""

    def __init__(self, instruction_id: str):
        super().__init__(
            f"IFEval instruction '{instruction_id}' needs the NLTK resource 'punkt_tab' "
            f"({NLTK_RESOURCE}), which is not installed, and budgetsplit never downloads it. "
            "Install it once on a machine with internet: "
            "`python -m nltk.downloader -d ~/nltk_data punkt_tab` "
            "(or copy an nltk_data folder holding tokenizers/punkt_tab and set NLTK_DATA to it)."
        )


def _no_download(*args, **kwargs) -> bool:
    return False


def _import_lm_eval():
    """lm-eval's ifeval modules, imported without letting them reach for the network."""
    real = nltk.download
    nltk.download = _no_download
    try:
        # Its import-time "Downloaded punkt_tab" message is false when nothing was downloaded.
        with contextlib.redirect_stdout(io.StringIO()):
            from lm_eval.tasks.ifeval import instructions_registry, utils
    finally:
        nltk.download = real
    return instructions_registry, utils


_registry, _utils = _import_lm_eval()
INSTRUCTION_IDS = frozenset(_registry.INSTRUCTION_DICT)


def has_nltk_data() -> bool:
    try:
        nltk.data.find(NLTK_RESOURCE)
    except LookupError:
        return False
    return True


def _validate(instruction_id_list: Sequence[str], kwargs_list: Sequence[Mapping]) -> None:
    if len(instruction_id_list) != len(kwargs_list):
        raise ValueError(
            f"instruction_id_list has {len(instruction_id_list)} ids but kwargs has "
            f"{len(kwargs_list)} dicts: {list(instruction_id_list)!r}"
        )
    for iid, kw in zip(instruction_id_list, kwargs_list, strict=True):
        if iid not in INSTRUCTION_IDS:
            raise ValueError(f"unknown IFEval instruction id {iid!r} (lm-eval's registry)")
        if not isinstance(kw, Mapping):
            raise ValueError(f"kwargs for instruction {iid!r} must be a dict, got {kw!r}")
        if iid in NEEDS_NLTK and not has_nltk_data():
            raise MissingNLTKData(iid)


def check(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping],
    prompt: str = "",
) -> tuple[list[bool], list[bool]]:
    """Per-instruction (strict, loose) verdicts of lm-eval's ifeval task for one response.

    Loose also accepts the response without its first line, its last line, both, and/or its
    asterisks. `prompt` matters only to instructions whose arguments name the prompt; kwargs with
    value None are dropped, as lm-eval does with IFEval's padded schema.
    """
    _validate(instruction_id_list, kwargs_list)
    inp = _utils.InputExample(
        key=0,
        instruction_id_list=list(instruction_id_list),
        prompt=prompt,
        kwargs=[dict(kw) for kw in kwargs_list],
    )
    try:
        strict = _utils.test_instruction_following_strict(inp, response)
        loose = _utils.test_instruction_following_loose(inp, response)
    except LookupError as e:  # NLTK data an instruction reads that NEEDS_NLTK does not list
        raise LookupError(
            f"IFEval check of {list(instruction_id_list)!r} needs NLTK data: {e}"
        ) from e
    return list(strict.follow_instruction_list), list(loose.follow_instruction_list)


def follows(response: str, instruction_id: str, kwargs: Mapping) -> bool:
    """Strict verdict of one instruction alone (half the cost of `check`: no loose variants)."""
    _validate([instruction_id], [kwargs])
    inp = _utils.InputExample(
        key=0, instruction_id_list=[instruction_id], prompt="", kwargs=[dict(kwargs)]
    )
    return _utils.test_instruction_following_strict(inp, response).follow_all_instructions


def aggregate(results: Sequence[tuple[Sequence[bool], Sequence[bool]]]) -> dict[str, float]:
    """IFEval's four accuracies over `check` results: prompt level (all instructions of a prompt
    followed) and instruction level (every instruction counted once, over all prompts)."""
    if not results:
        raise ValueError("aggregate needs at least one checked response")
    out = {}
    for i, mode in enumerate(("strict", "loose")):
        per_prompt = [r[i] for r in results]
        flat = [ok for p in per_prompt for ok in p]
        out[f"prompt_level_{mode}"] = sum(all(p) for p in per_prompt) / len(per_prompt)
        out[f"inst_level_{mode}"] = sum(flat) / len(flat) if flat else 0.0
    return {k: float(out[k]) for k in _KEYS}


_KEYS = ("prompt_level_strict", "inst_level_strict", "prompt_level_loose", "inst_level_loose")
