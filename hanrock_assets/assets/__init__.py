"""Software-defined assets, one module per concept of the paper."""
