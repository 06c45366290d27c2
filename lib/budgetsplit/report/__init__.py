"""What a reader sees: figures, their shared look, and values recorded in notebooks."""
