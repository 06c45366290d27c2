"""Tests of budgetsplit.core.progress: the progress-bar policy, with the frontend decided by a real
kernel's execute requests."""

from __future__ import annotations

import io

from budgetsplit.core import progress


def _run_in_kernel(code: str, allow_stdin: bool) -> list[dict]:
    """Execute `code` in a fresh python3 kernel as a frontend would; returns its IOPub messages."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        msgs = []
        kc.execute_interactive(code, allow_stdin=allow_stdin, output_hook=msgs.append, timeout=60)
        return msgs
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _saved_outputs(msgs: list[dict]) -> list[dict]:
    """What a frontend keeps of the messages: displays, updated in place by their display id."""
    shown, by_id = [], {}
    for m in msgs:
        kind, c = m["msg_type"], m["content"]
        display_id = c.get("transient", {}).get("display_id")
        if kind in ("display_data", "stream"):
            shown.append(dict(c.get("data") or {"text/plain": c.get("text", "")}))
            if display_id:
                by_id[display_id] = shown[-1]
        elif kind == "update_display_data":
            by_id[display_id].clear()
            by_id[display_id].update(c["data"])
    return shown


def test_frontend_follows_whether_the_kernel_may_ask_for_input():
    code = "from budgetsplit.core.progress import frontend; print(frontend())"
    # JupyterLab sends allow_stdin=True; papermill's nbclient sends False.
    for allow_stdin, expected in ((True, "lab"), (False, "batch")):
        out = _saved_outputs(_run_in_kernel(code, allow_stdin))
        assert [o["text/plain"].strip() for o in out] == [expected]


def test_jupyterlab_keeps_the_job_bar_and_no_closed_step_bars():
    msgs = _run_in_kernel(
        "from budgetsplit.core.progress import progress\n"
        "cells = progress(total=2, desc='math cells')\n"
        "for _ in range(2):\n"
        "    for _ in progress(range(3), desc='SFT', steps=True):\n"
        "        pass\n"
        "    cells.update()\n"
        "cells.close()",
        allow_stdin=True,
    )
    widget = "application/vnd.jupyter.widget-view+json"
    displayed = [m for m in msgs if widget in m["content"].get("data", {})]
    assert len(displayed) == 3  # the job bar and two step bars, as widgets
    shown = _saved_outputs(msgs)
    kept = [o for o in shown if o.get("text/plain", "").strip() or widget in o]
    assert len(kept) == 1 and widget in kept[0] and "math cells" in kept[0]["text/plain"]


def test_progress_bars_in_batch_runs(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert progress.frontend() == "batch"  # pytest captures stderr: not a terminal
    shown = io.StringIO()
    cells = progress.progress(total=3, desc="math cells", file=shown)
    assert not cells.disable and cells.mininterval == progress.BATCH_INTERVAL_S
    cells.set_postfix_str("math-dpo-B40-f0-s0")
    cells.update()
    assert shown.getvalue() == ""  # no redraw at the start, nor per cell started or finished
    cells.close()
    assert shown.getvalue().count("\r") == 1 and "1/3" in shown.getvalue()  # the final state, once
    steps = progress.progress(total=50, desc="SFT", steps=True)
    assert steps.disable and not steps.leave  # per-step bars stay out of saved outputs
    empty = progress.progress(total=0, desc="math cells")
    assert empty.disable  # nothing to run: no "math cells: 0cell" bar
    assert progress.progress(range(0)).disable


def test_a_long_batch_bar_keeps_about_ten_lines(monkeypatch):
    """However long the grid, a saved notebook keeps a redraw per tenth of the cells at most (with
    no interval at all here), not one a minute."""
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    shown = io.StringIO()
    cells = progress.progress(total=200, desc="math cells", file=shown, mininterval=0)
    for _ in range(200):
        cells.update()
    cells.close()
    redraws = shown.getvalue().count("\r")
    assert 5 <= redraws <= 12, redraws
