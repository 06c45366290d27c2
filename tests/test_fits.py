"""Tests of budgetsplit.analysis.fits: each model recovers what it can represent, and the leave-one-budget-
out choice picks the model that predicts unseen budgets better."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from budgetsplit.analysis import fits


def grid(f, budgets=(100, 300, 1000, 3000), noise=0.005, seeds=3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for b in budgets:
        for frac in (0, 0.1, 0.25, 0.5, 0.75, 1):
            n_sft, n_pref = int(frac * b), b - int(frac * b)
            for _ in range(seeds):
                y = f(n_sft, n_pref) + noise * rng.standard_normal()
                rows.append({"budget": b, "n_sft": n_sft, "n_pref": n_pref, "y": y})
    return pd.DataFrame(rows)


def saturating(n_sft, n_pref):
    u, v = 1 - (1 + n_sft / 200) ** -0.8, 1 - (1 + n_pref / 400) ** -1.2
    return 0.1 + 0.3 * u + 0.1 * v + 0.3 * u * v


def peaked(n_sft, n_pref):  # SFT helps up to ~300 demonstrations, then hurts: not saturating
    x = np.log1p(n_sft) - np.log(300)
    return 0.4 * np.exp(-(x**2)) + 0.05 * np.log1p(n_pref) / 8


def test_saturating_form_recovers_its_own_curve():
    model = fits.fit("saturating", grid(saturating))
    X = fits.features([0, 50, 500, 2000], [2000, 1000, 100, 0])
    assert model.predict(X) == pytest.approx(saturating(X[:, 0], X[:, 1]), abs=0.01)


def test_lobo_picks_the_saturating_form_on_saturating_data_and_the_gp_otherwise():
    name, errors = fits.choose_model(grid(saturating))
    assert name == "saturating" and errors["saturating"] < 0.02
    name, errors = fits.choose_model(grid(peaked))
    assert name == "gp" and errors["gp"] < errors["saturating"]


def test_too_few_points_leave_no_fold():
    errors = fits.lobo_errors(grid(saturating, budgets=(100, 300)))
    assert all(np.isnan(e) for e in errors.values())  # 6 points per budget: below MIN_CELLS
