"""
Every piece of typed application and request state.
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.config import Settings
from loginsvc.runtime import Runtime

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
