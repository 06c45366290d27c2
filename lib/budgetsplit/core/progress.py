"""Progress bars (`progress`, used by the grid, training, evaluation and the toy world's
pretraining) fit for where the code runs, decided once per bar by `frontend()`:
  - "lab": a kernel whose frontend a person uses (JupyterLab, VS Code: frontends that accept
    `input()`): ipywidgets bars; a per-step one is replaced by nothing when its step is done, so
    a saved notebook keeps no closed widget (reopened, JupyterLab would show each as "Error
    displaying widget: model not found");
  - "terminal": plain tqdm on a terminal, every bar;
  - "batch": papermill/nbclient (a kernel that refuses `input()`), or stderr going to a file or a
    pipe: only the bars over whole jobs (the grid's cells), plain text, drawn at most once a
    minute and at the end, so an executed notebook keeps a line or a few rather than one per
    training step (static HTML shows every redraw saved in the notebook as a line).
A bar with nothing to count (a grid whose cells are all recorded) is not shown at all.

The libraries' own bars (datasets' maps over a stage's rows, transformers' loading and saving of a
model's weights, TRL's reference log-probs) run inside one of ours, so they follow the per-step
rule: shown on a terminal, off elsewhere (`library_bars`). In a notebook each was a widget of its
own, 29 in the quickstart executed by papermill (smoke profile, 2026-12-02), and JupyterLab shows
a closed one as "Error displaying widget" once the notebook is reopened. Downloads keep
huggingface_hub's bars: a model's download is a long step of its own, with no bar of ours.
"""

from __future__ import annotations

import functools
import sys

from tqdm.std import tqdm as text_bar

BATCH_INTERVAL_S = 60.0  # batch bars: a redraw at most this often (a line each in a log file)


def frontend() -> str:
    """Who reads the progress bars: "lab", "terminal" or "batch" (module docstring)."""
    # IPython only if the process already runs it: worker processes never import it for this.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        # Set per execute request from the frontend's `allow_stdin`: JupyterLab and VS Code send
        # True, nbclient (papermill) sends False. ipykernel keeps it in this private attribute.
        return "lab" if getattr(kernel, "_allow_stdin", False) else "batch"
    return "terminal" if sys.stderr is not None and sys.stderr.isatty() else "batch"


def library_bars() -> bool:
    """Whether the libraries' own progress bars are shown: on a terminal. Elsewhere it turns
    datasets' and transformers' bars off for the rest of the process (the first call imports them;
    whatever trains has them loaded already) and returns False; TRL's bar over the reference
    log-probs reads TQDM_DISABLE when drawn, which budgetsplit.training.train sets around it."""
    if frontend() == "terminal":
        return True
    _library_bars_off()
    return False


@functools.cache
def _library_bars_off() -> None:
    import datasets
    import huggingface_hub.utils as hub
    from transformers.utils import logging

    downloads = not hub.are_progress_bars_disabled()
    logging.disable_progress_bar()  # turns huggingface_hub's off too: downloads keep theirs
    if downloads:
        hub.enable_progress_bars()
    datasets.disable_progress_bars()


class _BatchBar(text_bar):
    """A text bar for saved notebooks and logs, where every redraw is kept (static HTML shows each
    as a line): first drawn after `mininterval` (a short grid shows its final line only), then at
    most once per `mininterval` and per tenth of the total (a long grid keeps about ten lines, not
    one a minute), not on each postfix change (the grid's running cells)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("mininterval", BATCH_INTERVAL_S)
        kwargs.setdefault("delay", kwargs["mininterval"])
        if kwargs.get("total"):
            kwargs.setdefault("miniters", max(1, kwargs["total"] // 10))
        super().__init__(*args, **kwargs)

    def set_postfix_str(self, s="", refresh=True):
        super().set_postfix_str(s, refresh=False)

    def close(self):
        self.delay = 0  # the final state is drawn, once, however soon the job ends
        super().close()


@functools.cache
def _step_widget():
    """The "lab" per-step bar class (built on first use: tqdm.notebook imports ipywidgets)."""
    from IPython.display import display
    from tqdm.notebook import tqdm

    class StepWidget(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._shown = None if self.disable else display(self.container, display_id=True)

        def close(self):
            super().close()
            if self._shown is not None:  # the output keeps an empty text, not the closed widget
                self._shown.update({"text/plain": ""}, raw=True)
                self._shown = None

    return StepWidget


def progress(
    iterable=None, *, total: int | None = None, steps: bool = False, disable: bool = False, **kwargs
):
    """A tqdm bar for `frontend()`; `steps=True` marks a bar over the steps of one part of a larger
    job (training steps, eval examples, pretraining), which batch runs do not show. Other keyword
    arguments go to tqdm (desc, unit, ...)."""
    where = frontend()
    if where != "terminal":
        _library_bars_off()  # the libraries' bars, nested in ours, off (module docstring)
    n = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    # tqdm gets `disable` only when True: unset, it takes it from TQDM_DISABLE (grid workers).
    if disable or n == 0 or (steps and where == "batch"):
        kwargs["disable"] = True
    if steps:
        kwargs.setdefault("leave", False)
    if where == "lab":
        from tqdm.notebook import tqdm

        return (_step_widget() if steps else tqdm)(iterable, total=total, **kwargs)
    if where == "batch":
        return _BatchBar(iterable, total=total, **kwargs)
    return text_bar(iterable, total=total, **kwargs)
