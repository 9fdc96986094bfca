"""
Every projection writer module, imported once so each registers its writers.
"""

from __future__ import annotations

from events import catalog as _events
from projections import refresh_tokens
from projections.writes import side_ops

WRITERS = (refresh_tokens,)

__all__ = ["WRITERS", "side_ops", "_events"]
