"""Training and scoring a model: loading, SFT and PFT with TRL, the SFT stage cache,
evaluation, cached reference log-probs and the LM-head patch."""
