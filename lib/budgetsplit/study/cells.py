"""What a cell of the study grid is: `Cell` (task, method, budget, SFT fraction, seed[, cost ratio,
model]),
its readable id, what it buys: `cell_costs` (prices of one demonstration and of one example of
the method's second kind: a preference pair, or an RL prompt for grpo) and `cell_sizes` (n_sft,
n_pref, where n_pref counts that second kind), and the cells of a recipe: `expand` (its grid) and `sft_stage` (the SFT
stage a cell shares with others). Below the runner, the records and the analysis, which read cells.

    from budgetsplit.study.cells import Cell, cell_sizes
    cell = Cell("math", "dpo", budget=300, sft_fraction=0.1, seed=0)
    cell.cell_id, cell_sizes(params, cell)     # "math-dpo-B300-f0p1-s0", (30, 270)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from budgetsplit.config.params import ConfigError, Params, model_params
from budgetsplit.core.budget import split_budget
from budgetsplit.core.methods import TABLE as METHOD_TABLE

# The method of a cell that buys no preference data (its result is the same for every PFT method).
SFT_ONLY = "sft"
# The method of a task's base-model cell (budget 0, no training): the floor gains are read above.
BASE = "base"
# The method of a task's floor of cheap outputs (study/floors.py): a cell of the per-row score
# table only, never of the grid.
FLOOR = "floor"


def num_id(x: float) -> str:
    """A number for a file name: 1000.0 -> "1000", 0.25 -> "0p25", -1 -> "m1"."""
    return (
        (str(int(x)) if float(x).is_integer() else repr(float(x)))
        .replace(".", "p")
        .replace("-", "m")
    )


@dataclass(frozen=True)
class Cell:
    task: str
    method: str  # a PFT method, "sft" for a cell that buys no preference data, "base" untrained
    budget: float
    sft_fraction: float
    seed: int
    cost_ratio: float | None = None  # money budgets: c_sft = cost_ratio * costs.pref
    model: str | None = None  # the model axis: a label of Params.models (None: the one model)

    @property
    def cell_id(self) -> str:
        """A readable, filesystem-safe id, unique per cell, e.g. "math-dpo-B1000-f0p25-s0"."""
        parts = [
            self.task,
            self.method,
            f"B{num_id(self.budget)}",
            f"f{num_id(self.sft_fraction)}",
            f"s{self.seed}",
        ]
        if self.cost_ratio is not None:
            parts.append(f"r{num_id(self.cost_ratio)}")
        if self.model is not None:
            parts.append(f"on_{self.model}")
        return "-".join(parts)


# The columns that name a cell and its seed within one model's tables (results, per-row scores):
# Cell's fields but `model`. The tables hold a `model` column too (MODEL), and the analysis reads
# one model's rows at a time (study.results.model_rows), so its keys never need it.
MODEL = "model"
CELL_KEY = tuple(f.name for f in dataclasses.fields(Cell) if f.name != MODEL)


def buys(method: str) -> str:
    """What a cell of `method` buys after SFT: "pref" (pairs; also for "sft" and "base", which buy
    none) or "rl" (RL prompts: core/methods.py)."""
    return METHOD_TABLE[method].buys if method in METHOD_TABLE else "pref"


def cell_costs(params: Params, cell: Cell) -> tuple[float, float]:
    """(c_sft, c_second): the price of a demonstration and of one example of what the method buys
    after SFT (`buys`: a pair, c_pref, or an RL prompt, c_rl); 1 and 1 for example budgets; money
    budgets use the params' costs, with c_sft = ratio x c_second for a cell with a cost ratio."""
    b = params.budget
    if b.unit == "examples":
        if cell.cost_ratio is not None:
            raise ConfigError(
                "params", "budget.unit", b.unit, "a cell with a cost ratio needs budget.unit: money"
            )
        return 1.0, 1.0
    c_second = getattr(b.costs, buys(cell.method))
    return (cell.cost_ratio * c_second if cell.cost_ratio is not None else b.costs.sft), c_second


def cell_sizes(params: Params, cell: Cell) -> tuple[int, int]:
    """(n_sft, n_pref): the demonstrations and preference pairs the cell's budget buys."""
    if cell.method == BASE:
        return 0, 0
    return split_budget(cell.budget, cell.sft_fraction, *cell_costs(params, cell))


def expand(params: Params) -> list[Cell]:
    """Every cell of the recipe: budgets x SFT fractions x methods x seeds (x cost ratios), for
    each model of its model axis (`config.params.model_params`), model by model.

    A cell that buys no preference data is SFT only; it is the same for every method, so it is
    one cell with method "sft" rather than one per method. Example-budget recipes also hold the
    task's base-model cell (method "base", budget 0): the floor, scored on the same rows. Greedy
    decoding of an untrained model gives every seed the same answers, so it is one cell then.
    """
    if len(several := model_params(params)) > 1:
        return [cell for one in several for cell in expand(one)]
    ratios, model = params.budget.cost_ratios or (None,), params.model_label
    cells: dict[str, Cell] = {}
    if not params.budget.cost_ratios:
        for seed in params.seeds if params.eval.temperature > 0 else params.seeds[:1]:
            cell = Cell(params.task, BASE, 0, 0.0, seed, model=model)
            cells[cell.cell_id] = cell
    for ratio in ratios:
        for budget in params.budget.budgets:
            for frac in params.budget.sft_fractions:
                for seed in params.seeds:
                    for method in params.methods:
                        cell = Cell(params.task, method, budget, frac, seed, ratio, model)
                        if cell_sizes(params, cell)[1] == 0:
                            cell = dataclasses.replace(cell, method=SFT_ONLY)
                        cells.setdefault(cell.cell_id, cell)
    return list(cells.values())


def sft_stage(params: Params, cell: Cell) -> tuple | None:
    """What identifies a cell's SFT stage within one recipe; None when it trains no SFT."""
    n_sft = cell_sizes(params, cell)[0]
    return (cell.task, n_sft, cell.seed, cell.model) if n_sft else None
