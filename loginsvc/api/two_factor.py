"""
The Two Factor APIs: secrets, enabling and disabling methods, recovery
codes, and the two-factor login, start and status endpoints.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from loginsvc import totp
from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.login import (
    application_id_field,
    device_field,
    limited_ip,
    render_login,
)
from loginsvc.errors import NotFound
from loginsvc.http import (
    Fields,
    client_ip,
    empty,
    json_response,
    parse_uuid,
    read_json,
)
from loginsvc.runtime import Runtime
from loginsvc.services import two_factor, two_factor_login

routes = web.RouteTableDef()

#: Methods that need an email or SMS delivery channel this service lacks.
UNDELIVERABLE = ("email", "sms")


@routes.get("/api/two-factor/secret")
async def get_secret(request: web.Request) -> web.Response:
    # TODO(parity): FusionAuth also accepts a user's JWT here, see
    # https://fusionauth.io/docs/apis/two-factor
    require_api_key(request)
    return json_response(two_factor.new_secret())


@routes.post("/api/user/two-factor/{userId}")
async def post_enable(request: web.Request) -> web.Response:
    require_api_key(request)
    cmd = parse_enable(_user_id(request), await read_json(request))
    enabled = await two_factor.enable(runtime(request), cmd)
    body: dict[str, Any] = {}
    if enabled.recovery_codes is not None:
        body["recoveryCodes"] = enabled.recovery_codes
    if enabled.code is not None:
        body["code"] = enabled.code
    return json_response(body) if body else empty(200)


@routes.delete("/api/user/two-factor/{userId}")
async def delete_method(request: web.Request) -> web.Response:
    require_api_key(request)
    data = await read_json(request, optional=True)
    merged = {**dict(request.query), **data}
    fields = Fields(merged)
    code = fields.str("code", required=True)
    method_id = fields.str("methodId")
    fields.problems.raise_if_any()
    cmd = two_factor.DisableCommand(_user_id(request), code or "", method_id)
    await two_factor.disable(runtime(request), cmd)
    return empty(200)


@routes.post("/api/user/two-factor/recovery-code/{userId}")
async def post_recovery_codes(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    codes = await two_factor.regenerate_recovery_codes(rt, _user_id(request))
    return json_response({"recoveryCodes": codes})


@routes.post("/api/two-factor/login")
async def post_two_factor_login(request: web.Request) -> web.Response:
    rt = runtime(request)
    cmd = parse_two_factor_login(rt, request, await read_json(request))
    # The body names no loginId: the pending twoFactorId stands for it.
    ip = limited_ip(request, cmd.ip_address)
    await rt.limiter.check(ip, cmd.two_factor_id)
    result = await two_factor_login.two_factor_login(rt, cmd)
    return render_login(request, result)


@routes.post("/api/two-factor/start")
async def post_start(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    fields = Fields(await read_json(request))
    user_id = fields.uuid("userId")
    login_id = fields.str("loginId")
    application_id = application_id_field(rt, fields)
    if user_id is None and login_id is None and not fields.problems:
        fields.problems.blank("loginId")
    fields.problems.raise_if_any()
    body = await two_factor_login.start(rt, user_id, login_id, application_id)
    return json_response(body)


@routes.get("/api/two-factor/status")
@routes.get("/api/two-factor/status/{trustId}")
async def get_status(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    fields = Fields(dict(request.query))
    user_id = fields.uuid("userId", required=True)
    application_id = application_id_field(rt, fields)
    fields.problems.raise_if_any()
    trust_id = request.match_info.get("trustId")
    status, body = await two_factor_login.status(
        rt, user_id or "", application_id, trust_id
    )
    return json_response(body, status)


def parse_enable(user_id: str, data: dict[str, Any]) -> two_factor.EnableCommand:
    """
    Validate an enable request; every field error at once (reference §2.3).
    """
    fields = Fields(data)
    method = fields.str("method", required=True)
    code = fields.str("code", required=True)
    if method in UNDELIVERABLE:
        fields.problems.invalid(
            "method",
            f"The '{method}' method needs a delivery channel this service does "
            "not have yet; use 'authenticator'.",
        )
    elif method is not None and method != "authenticator":
        fields.problems.invalid("method", "The value of 'method' is not a method.")
    secret = _secret(fields) if method == "authenticator" else None
    name = fields.str("name")
    two_factor_id = fields.str("twoFactorId")
    fields.problems.raise_if_any()
    return two_factor.EnableCommand(
        user_id, code or "", secret or "", name, two_factor_id
    )


def _secret(fields: Fields) -> str | None:
    secret = fields.str("secret")
    base32 = fields.str("secretBase32Encoded")
    if secret is None and base32 is None:
        fields.problems.blank("secret")
        return None
    try:
        if secret is not None:
            totp.base32_from_base64(secret)
            return secret
        return totp.base64_from_base32(base32 or "")
    except ValueError as error:
        name = "secret" if secret is not None else "secretBase32Encoded"
        fields.problems.invalid(name, str(error))
        return None


def parse_two_factor_login(
    rt: Runtime, request: web.Request, data: dict[str, Any]
) -> two_factor_login.TwoFactorLoginCommand:
    """
    Validate a two-factor login body (reference §2.5).
    """
    fields = Fields(data)
    application_id = application_id_field(rt, fields)
    two_factor_id = fields.str("twoFactorId", required=True)
    code = fields.str("code", required=True)
    trust_computer = fields.bool("trustComputer")
    no_jwt = fields.bool("noJWT")
    ip = fields.obj("eventInfo").str("ipAddress") or fields.str("ipAddress")
    device = fields.obj("metaData").dict("device")
    fields.problems.raise_if_any()
    return two_factor_login.TwoFactorLoginCommand(
        two_factor_id=two_factor_id or "",
        code=(code or "").strip(),
        trust_computer=trust_computer,
        application_id=application_id,
        ip_address=client_ip(request, ip),
        no_jwt=no_jwt,
        device=device_field(device),
    )


def _user_id(request: web.Request) -> str:
    found = parse_uuid(request.match_info["userId"])
    if found is None:
        raise NotFound()
    return found
