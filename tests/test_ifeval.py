"""budgetsplit.tasks.ifeval: lm-eval's IFEval checkers, strict and loose, their aggregation, and offline
behaviour (no NLTK download, a clear error for instructions that need NLTK data)."""

import subprocess
import sys

import langdetect
import nltk
import pytest

from budgetsplit.tasks import ifeval

BULLETS = "detectable_format:number_bullet_lists"
LOWER = "change_case:english_lowercase"


@pytest.mark.parametrize(
    "response, iid, kwargs, strict, loose",
    [
        ("* the sea is wide.\n* boats sail at dawn.", BULLETS, {"num_bullets": 2}, True, True),
        ("* the sea is wide.\n* boats sail at dawn.", BULLETS, {"num_bullets": 3}, False, False),
        ("- one point\n- two points\n- three", BULLETS, {"num_bullets": 3}, True, True),
        ("the sea is calm and the boats sail out at dawn.", LOWER, {}, True, True),
        ("The sea is calm and the boats sail out at dawn.", LOWER, {}, False, False),
        # loose drops the first line: a chatty opener fails strict only
        ("Sure:\nthe sea is calm and the boats sail out at dawn.", LOWER, {}, False, True),
        ("Cows eat grass, hens lay eggs.", "punctuation:no_comma", {}, False, False),
        ("Cows eat grass. Hens lay eggs.", "punctuation:no_comma", {}, True, True),
        (
            "Fish swim. That is all.",
            "startend:end_checker",
            {"end_phrase": "That is all."},
            True,
            True,
        ),
        (
            "Fish swim. THAT IS ALL.",
            "startend:end_checker",
            {"end_phrase": "That is all."},
            True,
            True,
        ),
        (
            "That is all. Fish swim.",
            "startend:end_checker",
            {"end_phrase": "That is all."},
            False,
            False,
        ),
        # loose drops the last line
        (
            "Fish swim. That is all.\nBye",
            "startend:end_checker",
            {"end_phrase": "That is all."},
            False,
            True,
        ),
        ("The seaside is warm.", "keywords:existence", {"keywords": ["sea"]}, True, True),
        ("The sand is warm.", "keywords:existence", {"keywords": ["sea", "sand"]}, False, False),
        (
            "The seaside is warm.",
            "keywords:forbidden_words",
            {"forbidden_words": ["sea"]},
            True,
            True,
        ),
        (
            "The Sea is warm.",
            "keywords:forbidden_words",
            {"forbidden_words": ["sea"]},
            False,
            False,
        ),
        (
            "one two three",
            "length_constraints:number_words",
            {"num_words": 4, "relation": "less than"},
            True,
            True,
        ),
        (
            "one two three four",
            "length_constraints:number_words",
            {"num_words": 4, "relation": "less than"},
            False,
            False,
        ),
        (
            "one two, three-four",
            "length_constraints:number_words",
            {"num_words": 4, "relation": "at least"},
            True,
            True,
        ),
        ("", "punctuation:no_comma", {}, False, False),  # an empty answer follows nothing
    ],
)
def test_known_verdicts(response, iid, kwargs, strict, loose):
    assert ifeval.check(response, [iid], [kwargs]) == ([strict], [loose])
    assert ifeval.follows(response, iid, kwargs) is strict


def test_loose_drops_asterisks():
    # Markdown bold hides the phrase from strict matching; loose also tries the text without "*".
    iid, kw = "keywords:existence", {"keywords": ["fish swim"]}
    assert ifeval.check("**fish** swim", [iid], [kw]) == ([False], [True])


def test_none_kwargs_are_dropped_as_in_ifeval_rows():
    padded = {"num_bullets": 2, "keywords": None, "end_phrase": None}
    assert ifeval.check("* a\n* b", [BULLETS], [padded]) == ([True], [True])


def test_several_instructions_per_prompt():
    ids = [BULLETS, "punctuation:no_comma", LOWER]
    kws = [{"num_bullets": 2}, {}, {}]
    strict, loose = ifeval.check("Here:\n* boats sail, fish swim.\n* the sea is wide.", ids, kws)
    assert strict == [True, False, False]
    assert loose == [True, False, True]


def test_aggregate_matches_ifeval_definitions():
    results = [([True, False], [True, True]), ([True], [True]), ([False, False, True], [True] * 3)]
    out = ifeval.aggregate(results)
    assert out == {
        "prompt_level_strict": pytest.approx(1 / 3),
        "inst_level_strict": pytest.approx(3 / 6),
        "prompt_level_loose": pytest.approx(1.0),
        "inst_level_loose": pytest.approx(1.0),
    }
    assert all(type(v) is float for v in out.values())
    with pytest.raises(ValueError, match="at least one"):
        ifeval.aggregate([])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no_such:thing"):
        ifeval.check("x", ["no_such:thing"], [{}])
    with pytest.raises(ValueError, match="2 ids but kwargs has 1"):
        ifeval.check("x", [BULLETS, LOWER], [{}])
    with pytest.raises(ValueError, match="must be a dict"):
        ifeval.check("x", [LOWER], [None])


def _without_nltk_data(monkeypatch):
    def missing(resource, *args, **kwargs):
        raise LookupError(f"Resource {resource} not found (test)")

    monkeypatch.setattr(nltk.data, "find", missing)


def test_instructions_needing_nltk_data_raise_a_clear_error(monkeypatch):
    _without_nltk_data(monkeypatch)
    kw = {"num_sentences": 2, "relation": "at least"}
    with pytest.raises(ifeval.MissingNLTKData, match="punkt_tab.*nltk.downloader"):
        ifeval.check("One. Two.", ["length_constraints:number_sentences"], [kw])
    kw = {"capital_frequency": 1, "capital_relation": "at least"}
    with pytest.raises(ifeval.MissingNLTKData, match="capital_word_frequency"):
        ifeval.follows("THE SEA", "change_case:capital_word_frequency", kw)


def test_every_other_instruction_runs_without_nltk_data(monkeypatch):
    """The NEEDS_NLTK list is complete: with NLTK data absent, every other registered checker runs."""
    _without_nltk_data(monkeypatch)
    text = 'The sea is calm. BOATS sail out at dawn, and *people* fish.\n\nP.S. "bye" [name]'
    special = {"combination:repeat_prompt": {"prompt_to_repeat": "Describe the sea."}}
    for iid in sorted(ifeval.INSTRUCTION_IDS - ifeval.NEEDS_NLTK):
        strict, loose = ifeval.check(text, [iid], [special.get(iid, {})])
        assert len(strict) == len(loose) == 1, iid


def test_langdetect_is_seeded_so_case_checks_repeat():
    assert langdetect.DetectorFactory.seed == 0
    verdicts = {ifeval.follows("many birds sing at dawn.", LOWER, {}) for _ in range(5)}
    assert len(verdicts) == 1


def test_import_never_reaches_for_nltk_download():
    """lm-eval's ifeval module calls nltk.download('punkt_tab') at import when it is missing; our
    import must neither call it nor leave nltk.download patched."""
    code = (
        "import nltk\n"
        "calls = []\n"
        "def spy(*a, **k):\n"
        "    calls.append(a)\n"
        "    return False\n"
        "nltk.download = spy\n"
        "nltk.data.find = lambda *a, **k: (_ for _ in ()).throw(LookupError('absent'))\n"
        "import budgetsplit.tasks.ifeval\n"
        "assert calls == [], calls\n"
        "assert nltk.download is spy\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
