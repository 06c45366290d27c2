"""Running studies: one cell, the grid and its executors, time estimates, adaptive search,
calibration, Ray, and the bare-loop speed."""
