"""What the results say: paired-bootstrap statistics, best splits and verdicts, fits,
the advisor and the paper's claims."""
