"""
Every projection writer module, imported once so each registers its writers.
"""

from __future__ import annotations

from events import catalog as _events
from projections import logins, refresh_tokens, two_factor
from projections.writes import side_ops

WRITERS = (refresh_tokens, two_factor, logins)

__all__ = ["WRITERS", "side_ops", "_events"]
