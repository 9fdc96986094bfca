"""
The Login API: ``POST /api/login``.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from aiohttp import web

from loginsvc.api.auth import api_key, runtime
from loginsvc.errors import Unauthorized
from loginsvc.http import Fields, client_ip, is_https, json_response, read_json
from loginsvc.runtime import Runtime
from loginsvc.services.login import LoginCommand, LoginResult, login
from loginsvc.services.system import application, tenant
from loginsvc.tenant import setting

routes = web.RouteTableDef()

#: The cookie that carries a trusted device's twoFactorTrustId.
TRUST_COOKIE = "fusionauth.trust"


@routes.post("/api/login")
async def post_login(request: web.Request) -> web.Response:
    rt = runtime(request)
    cmd = parse_login(rt, request, await read_json(request))
    require_login_authentication(rt, request, cmd.application_id)
    await rt.limiter.check(limited_ip(request, cmd.ip_address), cmd.login_id)
    result = await login(rt, cmd)
    return render_login(request, result)


def limited_ip(request: web.Request, recorded_ip: str | None) -> str | None:
    """
    The IP a rate limit counts: the body's ``ipAddress`` only with an API key.
    """
    return recorded_ip if api_key(request) is not None else client_ip(request)


def parse_login(
    rt: Runtime, request: web.Request, data: dict[str, Any]
) -> LoginCommand:
    """
    Validate a login body; every field error at once (reference §1.3).
    """
    fields = Fields(data)
    application_id = application_id_field(rt, fields)
    login_id = fields.str("loginId", required=True)
    password = fields.str("password", required=True)
    no_jwt = fields.bool("noJWT")
    trust_id = fields.str("twoFactorTrustId")
    event_info = fields.obj("eventInfo")
    ip = event_info.str("ipAddress") or fields.str("ipAddress")
    device = fields.obj("metaData").dict("device")
    fields.problems.raise_if_any()
    return LoginCommand(
        login_id=login_id or "",
        password=password or "",
        application_id=application_id,
        ip_address=client_ip(request, ip),
        no_jwt=no_jwt,
        device=device_field(device),
        two_factor_trust_id=request.cookies.get(TRUST_COOKIE) or trust_id,
    )


def application_id_field(rt: Runtime, fields: Fields) -> str | None:
    """
    The body's ``applicationId``: a UUID naming an active application.

    FusionAuth treats an inactive application as not found (reference §1.8).
    """
    application_id = fields.uuid("applicationId")
    found = application(rt, application_id)
    if application_id and (found is None or not found.get("active", True)):
        fields.problems.invalid(
            "applicationId", "The provided application Id is invalid."
        )
        return None
    return application_id


def device_field(device: dict[str, Any] | None) -> dict[str, Any] | None:
    """
    The known ``metaData.device`` fields, as short strings.
    """
    if not device:
        return None
    allowed = ("name", "description", "type", "lastAccessedAddress")
    return {k: str(v)[:256] for k, v in device.items() if k in allowed and v}


def require_login_authentication(
    rt: Runtime, request: web.Request, application_id: str | None
) -> None:
    """
    401 when the application (or, without one, the tenant) requires an API key.
    """
    app = application(rt, application_id)
    if app is not None:
        required = (app.get("loginConfiguration") or {}).get(
            "requireAuthentication", True
        )
    else:
        required = setting(
            tenant(rt), "loginConfiguration", "requireAuthentication", default=True
        )
    if required and api_key(request) is None:
        raise Unauthorized()


def render_login(request: web.Request, result: LoginResult) -> web.Response:
    """
    The JSON body and FusionAuth's cookies for a login result.
    """
    response = json_response(result.body, result.status)
    secure = is_https(request)
    token = result.body.get("token")
    if token:
        response.set_cookie(
            "access_token",
            token,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure or None,
        )
    now_s = runtime(request).clock() // 1000
    refresh = result.body.get("refreshToken")
    if refresh and result.refresh_ttl_seconds:
        response.set_cookie(
            "refresh_token",
            refresh,
            max_age=result.refresh_ttl_seconds,
            expires=_cookie_date(now_s + result.refresh_ttl_seconds),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure or None,
        )
    if result.trust is not None:
        trust_id, ttl = result.trust
        response.set_cookie(
            TRUST_COOKIE,
            trust_id,
            max_age=ttl,
            expires=_cookie_date(now_s + ttl),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure or None,
        )
    if result.status == 242 and TRUST_COOKIE in request.cookies:
        # A challenge means the carried trust is no good: FusionAuth clears it.
        response.del_cookie(TRUST_COOKIE, path="/")
    return response


def _cookie_date(epoch_s: int) -> str:
    """
    An RFC 1123 ``Expires`` date; FusionAuth sends it next to ``Max-Age``
    (reference §1.6) for clients that ignore ``Max-Age``.
    """
    return formatdate(epoch_s, usegmt=True)
