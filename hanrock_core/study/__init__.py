"""Stage 4, the study: profiles and hypotheses, the search over trials, their storage and identity,
selection, seed replicates, the worker pool, result rows and study health."""
