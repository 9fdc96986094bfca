"""Application services, one module per use-case group."""
