"""
The Login API's session endpoints: ``PUT /api/login`` (update the login
instant) and ``POST /api/logout``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from loginsvc.api.auth import api_key, bearer_token, require_api_key, runtime
from loginsvc.api.login import application_id_field
from loginsvc.errors import Unauthorized
from loginsvc.http import (
    Fields,
    client_ip,
    empty,
    query_bool,
    read_json,
)
from loginsvc.runtime import Runtime
from loginsvc.services.sessions import Ping, logout, ping
from loginsvc.signing import InvalidToken

routes = web.RouteTableDef()


@routes.put("/api/login/{userId}/{applicationId}")
async def put_login_for(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    cmd = parse_ping(rt, request, dict(request.match_info))
    return empty(await ping(rt, cmd))


@routes.put("/api/login")
async def put_login(request: web.Request) -> web.Response:
    rt = runtime(request)
    if api_key(request) is not None:
        cmd = parse_ping(rt, request, await read_json(request, optional=True))
        return empty(await ping(rt, cmd))
    claims = _claims(rt, request)
    data = {
        "userId": claims.get("sub"),
        "applicationId": claims.get("applicationId") or claims.get("aud"),
    }
    return empty(await ping(rt, parse_ping(rt, request, data)))


def _claims(rt: Runtime, request: web.Request) -> dict[str, Any]:
    token = bearer_token(request)
    if not token:
        raise Unauthorized()
    try:
        return rt.keyring.verify(token, rt.clock() // 1000)
    except InvalidToken:
        raise Unauthorized() from None


def parse_ping(rt: Runtime, request: web.Request, data: dict[str, Any]) -> Ping:
    """
    Validate a ping from the path, a JSON body or a JWT's claims (reference §3.2).
    """
    fields = Fields(data)
    user_id = fields.uuid("userId", required=True)
    application_id = application_id_field(rt, fields)
    ip = (
        fields.obj("eventInfo").str("ipAddress")
        or fields.str("ipAddress")
        or request.query.get("ipAddress")
        or request.query.get("callerIPAddress")
    )
    fields.problems.raise_if_any()
    return Ping(user_id or "", application_id, client_ip(request, ip))


@routes.post("/api/logout")
async def post_logout(request: web.Request) -> web.Response:
    fields = Fields(await read_json(request, optional=True))
    global_ = query_bool(request, "global") or fields.bool("global")
    # An explicit token wins over the cookie here, unlike the refresh (§4).
    token = (
        request.query.get("refreshToken")
        or fields.str("refreshToken")
        or request.cookies.get("refresh_token")
    )
    await logout(runtime(request), token, global_)
    response = empty(200)
    response.del_cookie("access_token", path="/")
    response.del_cookie("refresh_token", path="/")
    return response
