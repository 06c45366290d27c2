"""What a cell of the study grid is: `Cell` (task, method, budget, SFT fraction, seed[, cost ratio]),
its readable id, and what it buys: `cell_costs` (prices of one demonstration and one pair) and
`cell_sizes` (n_sft, n_pref). Below both the grid and the records, which read cells and import this.

    from budgetsplit.cells import Cell, cell_sizes
    cell = Cell("math", "dpo", budget=300, sft_fraction=0.1, seed=0)
    cell.cell_id, cell_sizes(params, cell)     # "math-dpo-B300-f0p1-s0", (30, 270)
"""

from __future__ import annotations

from dataclasses import dataclass

from budgetsplit.budget import split_budget
from budgetsplit.config import ConfigError, Params

# The method of a cell that buys no preference data (its result is the same for every PFT method).
SFT_ONLY = "sft"
# The method of a task's base-model cell (budget 0, no training): the floor gains are read above.
BASE = "base"


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
        return "-".join(parts)


def cell_costs(params: Params, cell: Cell) -> tuple[float, float]:
    """(c_sft, c_pref): 1 and 1 for example budgets; money budgets use the params' costs and the cell's ratio."""
    b = params.budget
    if b.unit == "examples":
        if cell.cost_ratio is not None:
            raise ConfigError(
                "params", "budget.unit", b.unit, "a cell with a cost ratio needs budget.unit: money"
            )
        return 1.0, 1.0
    c_pref = b.costs.pref
    return (cell.cost_ratio * c_pref if cell.cost_ratio is not None else b.costs.sft), c_pref


def cell_sizes(params: Params, cell: Cell) -> tuple[int, int]:
    """(n_sft, n_pref): the demonstrations and preference pairs the cell's budget buys."""
    if cell.method == BASE:
        return 0, 0
    return split_budget(cell.budget, cell.sft_fraction, *cell_costs(params, cell))
