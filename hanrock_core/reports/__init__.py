"""Stage 6, reports: plots, study summaries and the attention report."""
