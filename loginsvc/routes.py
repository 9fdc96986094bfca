"""
The one route table: every handler module's routes, added to the app.
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api import (
    api_keys,
    applications,
    jwt,
    keys,
    login,
    registrations,
    reports,
    sessions,
    status,
    tenants,
    two_factor,
    user_actions,
    users,
)


def add_routes(app: web.Application) -> None:
    # reports first: /api/user/recent-login would match /api/user/{userId}.
    for module in (
        status,
        login,
        sessions,
        jwt,
        keys,
        reports,
        users,
        two_factor,
        registrations,
        applications,
        user_actions,
        tenants,
        api_keys,
    ):
        app.router.add_routes(module.routes)
