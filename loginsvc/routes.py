"""
The one route table: every handler module's routes, added to the app.
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api import login, status


def add_routes(app: web.Application) -> None:
    for module in (status, login):
        app.router.add_routes(module.routes)
