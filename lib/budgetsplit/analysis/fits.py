"""The two models of a task's metric as a function of (n_sft, n_pref) that the advisor chooses
between, and the choice: the lower leave-one-budget-out error (docs/statistics.md).

    from budgetsplit.analysis import fits
    name, errors = fits.choose_model(d)       # d: rows with n_sft, n_pref, budget, y
    fits.fit(name, d).predict(fits.features(n_sft, n_pref))

* `saturating`: y = a + b*u + c*v + d*u*v with u = 1 - (1 + n_sft/k_s)^-alpha_s and v the same
  in n_pref: saturating power laws with an interaction (preference data may need SFT first). The
  four shape parameters are fitted by scipy.optimize.least_squares from fixed starts, a..d by
  linear least squares inside.
* `gp`: a Gaussian process (scikit-learn) on log1p(n_sft), log1p(n_pref) with an anisotropic RBF
  kernel and a white-noise term.

Leave-one-budget-out: every budget (but 0, the base row that anchors the floor) is held out in
turn, the model fitted to the others and scored (RMSE) on the held-out cells' seed means: what the
advisor does, predicting a budget it has not seen.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

MIN_CELLS = 10  # distinct (n_sft, n_pref) points a fit needs: the saturating form has 8 parameters


def features(n_sft, n_pref) -> np.ndarray:
    """The models' input: one row (n_sft, n_pref) per point."""
    return np.column_stack([np.asarray(n_sft, float), np.asarray(n_pref, float)])


class Saturating:
    name = "saturating"

    def _design(self, X, theta):
        ks, a_s, kp, a_p = np.exp(theta)
        u = 1 - (1 + X[:, 0] / ks) ** -a_s
        v = 1 - (1 + X[:, 1] / kp) ** -a_p
        return np.column_stack([np.ones(len(X)), u, v, u * v])

    def fit(self, X, y):
        def resid(theta):
            A = self._design(X, theta)
            return A @ np.linalg.lstsq(A, y, rcond=None)[0] - y

        lo, hi = np.log([1, 0.05, 1, 0.05]), np.log([1e6, 3, 1e6, 3])
        starts = [np.log([k, 0.5, k, 0.5]) for k in (10, 100, 1000)]  # fixed starts: deterministic
        runs = [scipy.optimize.least_squares(resid, s, bounds=(lo, hi)) for s in starts]
        self.theta = min(runs, key=lambda r: r.cost).x
        A = self._design(X, self.theta)
        self.coef = np.linalg.lstsq(A, y, rcond=None)[0]
        return self

    def predict(self, X):
        return self._design(X, self.theta) @ self.coef


class GP:
    name = "gp"

    def fit(self, X, y):
        kernel = ConstantKernel() * RBF([1.0, 1.0], (1e-2, 1e2)) + WhiteKernel(1e-3, (1e-8, 1))
        self.gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
        with warnings.catch_warnings():  # a length scale at its bound is common on small grids:
            warnings.simplefilter("ignore", ConvergenceWarning)  # the LOBO error judges the fit
            self.gp.fit(np.log1p(X), y)
        return self

    def predict(self, X):
        return self.gp.predict(np.log1p(X))


MODELS = {"saturating": Saturating, "gp": GP}


def fit(model: str, d: pd.DataFrame):
    """`model` fitted to the rows of d (columns n_sft, n_pref, y); has .predict(features)."""
    return MODELS[model]().fit(features(d["n_sft"], d["n_pref"]), d["y"].to_numpy(float))


def lobo_errors(d: pd.DataFrame) -> dict[str, float]:
    """Leave-one-budget-out RMSE of each model on held-out cell means (budget 0, the base
    row, is never held out: it anchors the floor)."""
    errors = {}
    for name in MODELS:
        sq = []
        for b in sorted(set(d["budget"]) - {0}):
            train, test = d[d["budget"] != b], d[d["budget"] == b]
            if train[["n_sft", "n_pref"]].drop_duplicates().shape[0] < MIN_CELLS:
                continue
            means = test.groupby(["n_sft", "n_pref"])["y"].mean().reset_index()
            pred = fit(name, train).predict(features(means["n_sft"], means["n_pref"]))
            sq.extend((pred - means["y"]) ** 2)
        errors[name] = float(np.sqrt(np.mean(sq))) if sq else float("nan")
    return errors


def choose_model(d: pd.DataFrame) -> tuple[str, dict[str, float]]:
    """The model with the lower leave-one-budget-out error (ties: the saturating form), errors."""
    errors = lobo_errors(d)
    return min(errors, key=lambda k: np.nan_to_num(errors[k], nan=np.inf)), errors
