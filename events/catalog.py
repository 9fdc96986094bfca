"""
Every event family, imported once so the codec knows every stored type.
"""

from __future__ import annotations

from events import login, refresh_token, system, two_factor, user
from events.codec import registered_types

FAMILIES = (user, login, system, refresh_token, two_factor)

__all__ = ["FAMILIES", "registered_types"]
