"""budgetsplit."""
