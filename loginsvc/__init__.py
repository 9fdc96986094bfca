"""loginsvc: a FusionAuth-compatible login service, event-sourced on Redis."""

from __future__ import annotations

__version__ = "0.1.0"
