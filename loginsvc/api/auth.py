"""
API-key authentication as FusionAuth does it: the raw key in ``Authorization``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from loginsvc.appkeys import RUNTIME
from loginsvc.errors import Unauthorized
from loginsvc.runtime import Runtime
from loginsvc.services.system import authorized_key


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def api_key(request: web.Request) -> dict[str, Any] | None:
    """
    The API key record allowing this request, or ``None``.
    """
    raw = request.headers.get("Authorization")
    if raw is None or raw.lower().startswith(("bearer ", "basic ", "jwt ")):
        return None
    return authorized_key(
        runtime(request), raw.strip(), request.method, endpoint(request)
    )


def endpoint(request: web.Request) -> str:
    """
    The FusionAuth endpoint a request is for: its route up to the first id.
    """
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return template.split("/{", 1)[0].rstrip("/") or "/"


def require_api_key(request: web.Request) -> dict[str, Any]:
    """
    The API key record, or 401 with an empty body.
    """
    record = api_key(request)
    if record is None:
        raise Unauthorized()
    return record


def bearer_token(request: web.Request) -> str | None:
    """
    A JWT from ``Authorization: Bearer`` (or ``JWT``), else the access_token cookie.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "jwt") and value.strip():
        return value.strip()
    return request.cookies.get("access_token") or None
