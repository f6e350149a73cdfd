"""The platform's plumbing, below every stage: errors and notices, files and the data directory (`Home`),
the deployment's settings, YAML with line numbers, the paper's metrics and the results database."""
