"""HTTP handlers, one module per FusionAuth API group."""
