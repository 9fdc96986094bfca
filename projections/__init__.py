"""Pure fold functions, one module per read model, and the projection store."""
