"""Bookkeeping of a study, no torch: what a cell is and buys, its record, the results table."""
