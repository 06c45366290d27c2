"""Task-agnostic answer metrics: GSM8K answer extraction and matching as lm-eval does it, and ROUGE-L.

GSM8K scoring follows lm-eval's `gsm8k` task (lm_eval/tasks/gsm8k/gsm8k.yaml) and calls lm-eval's
own code where it can, so that the toy world and the paper profile score exactly as lm-eval would:

- strict-match: regex `#### (\\-?[0-9\\.\\,]+)`, first match (the answer after "####").
- flexible-extract: regex `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match, its first non-empty group.
- exact_match: both sides stripped of `,`, `$`, everything up to "#### ", and one trailing `.`,
  then compared case-insensitively.

Extraction runs through `lm_eval.filters.extraction.RegexFilter`, matching through
`lm_eval.api.metrics.exact_match_hf_evaluate`; the YAML's constants are copied below and
tests/test_metrics.py checks them against the installed YAML.

    from budgetsplit.tasks.metrics import extract_strict, answers_match, rouge_l_f1
    answers_match(extract_strict("Step 1: 3 + 4 = 7.\\n#### 7"), "7")   # True
    rouge_l_f1("TL;DR: moved to Lima.", "TL;DR: I moved to Lima.")      # 0.909
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter

# The filter and metric settings of lm-eval's gsm8k task (gsm8k.yaml, metadata version 3.0).
STRICT_PATTERN = r"#### (\-?[0-9\.\,]+)"
FLEXIBLE_PATTERN = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
EXACT_MATCH_KWARGS = {
    "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"],
    "ignore_case": True,
    "ignore_punctuation": False,
}
# What lm-eval's RegexFilter yields when nothing matches; we return None instead.
_FALLBACK = "[invalid]"

_strict_filter = RegexFilter(regex_pattern=STRICT_PATTERN, group_select=0, fallback=_FALLBACK)
_flexible_filter = RegexFilter(regex_pattern=FLEXIBLE_PATTERN, group_select=-1, fallback=_FALLBACK)


@functools.cache
def _rouge():
    """ROUGE-L with rouge_score's defaults (lower-cased alphanumeric tokens, no stemming); one
    instance, since building a scorer per call costs more than scoring. Imported on first use:
    rouge_score pulls in NLTK and SciPy (1.2 s), which only the summarize tasks need."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"])


def _extract(regex_filter: RegexFilter, text: str) -> str | None:
    # lm-eval pipes [[response]] through the regex filter, then "take_first".
    (found,) = [resps[0] for resps in regex_filter.apply([[text]], [{}])]
    return None if found == _FALLBACK else found


def extract_strict(text: str) -> str | None:
    """The answer after the first "#### " (lm-eval's strict-match), or None if there is none."""
    return _extract(_strict_filter, text)


def extract_flexible(text: str) -> str | None:
    """The last number-like span of `text` (lm-eval's flexible-extract), or None if there is none."""
    return _extract(_flexible_filter, text)


def normalize_answer(s: str) -> str:
    """The string lm-eval's exact_match compares: the ignored regexes removed, lower-cased."""
    for pattern in EXACT_MATCH_KWARGS["regexes_to_ignore"]:
        s = re.sub(pattern, "", s)
    return s.lower() if EXACT_MATCH_KWARGS["ignore_case"] else s


def answers_match(pred: str | None, gold: str) -> bool:
    """lm-eval's gsm8k exact_match of an extracted answer against the gold answer.

    `gold` may be the bare number or a full solution ending in "#### N" (lm-eval's target);
    `pred` None (nothing extracted) never matches, as lm-eval's "[invalid]" never does.
    """
    if pred is None:
        return False
    result = exact_match_hf_evaluate(predictions=[pred], references=[gold], **EXACT_MATCH_KWARGS)
    return bool(result["exact_match"] == 1.0)


def most_common_answer(texts) -> str:
    """The answer (strict-match) that most of `texts` end with: the guess of a majority baseline
    (ties: the one seen first); "0" when none has an answer."""
    found = Counter(a for a in map(extract_strict, texts) if a is not None).most_common(1)
    return found[0][0] if found else "0"


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of `prediction` against `reference`, in [0, 1]."""
    return float(_rouge().score(reference, prediction)["rougeL"].fmeasure)
