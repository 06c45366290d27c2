"""The PFT methods, in one table: for each method name, the TRL trainer family that trains it, the
loss types that family's config gets, and the settings calibration sweeps beside the learning rate.

Everything that lists, validates, trains or calibrates a PFT method reads this table:
`config.params.METHODS` and the recipes' validation (which `methods:` are valid),
`training.train.train_pft` (trainer, loss, batch) and `run.calibrate.sweep_steps` (what is swept).
A new method is one row here; a method of a new trainer family is also that family's glue in
training/train.py (`_TRAINERS`), and a newly swept setting a grid in run/calibrate.py (`GRIDS`).
The table holds names and numbers only, so it sits at the bottom of the import graph.

    from budgetsplit.core.methods import METHODS, TABLE
    METHODS                              # ("dpo", "ipo", "dpo_sft", "kto")
    TABLE["dpo_sft"].loss_weights(3.0)   # [1.0, 3.0]: DPO's loss plus 3 x the SFT term
    TABLE["kto"].rows_per_pair           # 2: KTO trains on the pairs unpaired
"""

from __future__ import annotations

from dataclasses import dataclass

# TRL trainer family -> training rows per annotated pair: DPOTrainer trains on the pairs, KTOTrainer
# on them unpaired (chosen -> desirable, rejected -> undesirable).
FAMILIES = {"dpo": 1, "kto": 2}


@dataclass(frozen=True)
class Method:
    family: str  # a FAMILIES key: DPOTrainer with DPOConfig, or KTOTrainer with KTOConfig
    loss_types: tuple[str, ...]  # the config's loss_type ("sft" adds the SFT term); KTO takes one
    swept: tuple[str, ...]  # dotted pft.* keys calibration sweeps after pft.learning_rate, in order
    paper: bool = False  # one of the paper's methods (DPO, KTO)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"unknown trainer family {self.family!r}; known: {list(FAMILIES)}")
        if self.family == "kto" and len(self.loss_types) != 1:
            raise ValueError(f"KTOConfig takes one loss type, not {self.loss_types}")
        # calibration writes the pft.* keys it chose into pft.tuned, and sweeps the lr itself first
        if any(not k.startswith("pft.") or k == "pft.learning_rate" for k in self.swept):
            raise ValueError(f"swept settings are pft.* keys other than the lr: {self.swept}")

    @property
    def sft_term(self) -> bool:
        """Whether the loss adds the SFT term (TRL's "sft" loss), weighted `pft.sft_weight`."""
        return "sft" in self.loss_types

    @property
    def rows_per_pair(self) -> int:
        """Training rows per annotated pair; the batch grows by the same factor, so that every
        method takes the same optimizer steps per pair."""
        return FAMILIES[self.family]

    def loss_weights(self, sft_weight: float) -> list[float] | None:
        """DPOConfig's loss_weights: `sft_weight` on the SFT term, 1 on the others; None (TRL's
        equal weights) without an SFT term."""
        if not self.sft_term:
            return None
        return [sft_weight if t == "sft" else 1.0 for t in self.loss_types]


TABLE: dict[str, Method] = {
    "dpo": Method("dpo", ("sigmoid",), swept=("pft.beta",), paper=True),
    "ipo": Method("dpo", ("ipo",), swept=("pft.beta",)),  # beta is IPO's tau
    "dpo_sft": Method("dpo", ("sigmoid", "sft"), swept=("pft.sft_weight",)),
    "kto": Method("kto", ("kto",), swept=("pft.beta",), paper=True),
}
METHODS: tuple[str, ...] = tuple(TABLE)
