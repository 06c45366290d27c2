"""The PFT methods, in one table: for each method name, the TRL trainer family that trains it, the
loss types that family's config gets, and the settings calibration sweeps beside the learning rate.
A method spends the budget left after SFT on preference pairs (DPO, KTO) or, for online RL (GRPO),
on prompts with an answer key or checker (`Method.buys`: "pref" or "rl", priced c_pref or c_rl).

Everything that lists, validates, trains or calibrates a PFT method reads this table:
`config.params.METHODS` and the recipes' validation (which `methods:` are valid),
`training.train.train_pft` (trainer, loss, batch) and `run.calibrate.sweep_steps` (what is swept).
A new method is one row here; a method of a new trainer family is also that family's glue in
training/train.py (`_TRAINERS`), and a newly swept setting a grid in run/calibrate.py (`GRIDS`).
The table holds names and numbers only, so it sits at the bottom of the import graph.

    from budgetsplit.core.methods import METHODS, TABLE
    METHODS                              # ("dpo", "ipo", "dpo_sft", "kto", "grpo")
    TABLE["dpo_sft"].loss_weights(3.0)   # [1.0, 3.0]: DPO's loss plus 3 x the SFT term
    TABLE["kto"].rows_per_pair           # 2: KTO trains on the pairs unpaired
"""

from __future__ import annotations

from dataclasses import dataclass

# TRL trainer family -> training rows per annotated pair: DPOTrainer trains on the pairs, KTOTrainer
# on them unpaired (chosen -> desirable, rejected -> undesirable). GRPOTrainer's rows are the
# completions it samples, `pft.num_generations` per prompt (training/grpo.py scales its batch).
FAMILIES = {"dpo": 1, "kto": 2, "grpo": 1}
# The families that buy RL prompts rather than preference pairs.
RL_FAMILIES = ("grpo",)


@dataclass(frozen=True)
class Method:
    family: str  # a FAMILIES key: DPOTrainer, KTOTrainer or GRPOTrainer, with its config
    loss_types: tuple[str, ...]  # the config's loss_type ("sft" adds the SFT term); KTO takes one
    swept: tuple[str, ...]  # dotted pft.* keys calibration sweeps after pft.learning_rate, in order
    paper: bool = False  # one of the paper's methods (DPO, KTO)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"unknown trainer family {self.family!r}; known: {list(FAMILIES)}")
        if self.family in ("kto", "grpo") and len(self.loss_types) != 1:
            raise ValueError(f"{self.family}'s config takes one loss type, not {self.loss_types}")
        # calibration writes the pft.* keys it chose into pft.tuned, and sweeps the lr itself first
        if any(not k.startswith("pft.") or k == "pft.learning_rate" for k in self.swept):
            raise ValueError(f"swept settings are pft.* keys other than the lr: {self.swept}")

    @property
    def buys(self) -> str:
        """What the budget after SFT buys: "pref" (preference pairs) or "rl" (RL prompts)."""
        return "rl" if self.family in RL_FAMILIES else "pref"

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
    # GRPO with TRL's default loss aggregation ("dapo": token-level, without the length bias of
    # the first GRPO normalisation); the reward is the task's gold scorer (training/grpo.py).
    "grpo": Method("grpo", ("dapo",), swept=("pft.kl_beta", "pft.num_generations")),
}
METHODS: tuple[str, ...] = tuple(TABLE)
