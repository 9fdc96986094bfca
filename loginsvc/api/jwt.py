"""
The JWT API: refresh, validate, refresh-token management, public keys and
the JWKS document (reference §5).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from loginsvc.api.auth import bearer_token, require_api_key, runtime
from loginsvc.api.login import render_login
from loginsvc.errors import NotFound, Problems, Unauthorized
from loginsvc.http import Fields, client_ip, empty, json_response, read_json
from loginsvc.services import keys_admin, refresh
from loginsvc.services.login import LoginResult
from loginsvc.services.lookup import load_user
from loginsvc.signing import InvalidToken

routes = web.RouteTableDef()


@routes.post("/api/jwt/refresh")
async def post_refresh(request: web.Request) -> web.Response:
    fields = Fields(await read_json(request, optional=True))
    # The cookie wins over the body here, unlike logout (reference §5.5).
    token = request.cookies.get("refresh_token") or fields.str("refreshToken")
    ttl = fields.int("timeToLiveInSeconds")
    ip = fields.obj("eventInfo").str("ipAddress")
    if not token:
        fields.problems.missing("refreshToken")
    fields.problems.raise_if_any()
    cmd = refresh.Exchange(token or "", client_ip(request, ip), ttl)
    result = await refresh.exchange(runtime(request), cmd)
    return render_login(
        request, LoginResult(200, result.body, result.refresh_ttl_seconds)
    )


@routes.get("/api/jwt/validate")
async def get_validate(request: web.Request) -> web.Response:
    rt = runtime(request)
    token = bearer_token(request)
    if not token:
        raise Unauthorized()
    try:
        claims = rt.keyring.verify(token, rt.clock() // 1000)
    except InvalidToken:
        raise Unauthorized() from None
    return json_response({"jwt": claims})


@routes.get("/api/jwt/refresh")
async def get_refresh_tokens(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    fields = Fields(dict(request.query))
    user_id = fields.uuid("userId", required=True)
    fields.problems.raise_if_any()
    if (await load_user(rt, user_id or ""))[1] is None:
        fields.problems.invalid("userId", "The provided user Id is invalid.")
        fields.problems.raise_if_any()
    found = await refresh.tokens_of_user(rt, user_id or "")
    return json_response({"refreshTokens": [refresh.token_view(t) for t in found]})


@routes.get("/api/jwt/refresh/{tokenId}")
async def get_refresh_token(request: web.Request) -> web.Response:
    require_api_key(request)
    found = await refresh.find_by_id(runtime(request), request.match_info["tokenId"])
    if found is None:
        raise NotFound()
    return json_response({"refreshToken": refresh.token_view(found)})


@routes.delete("/api/jwt/refresh")
@routes.delete("/api/jwt/refresh/{tokenId}")
async def delete_refresh_tokens(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    spec = await _revoke_spec(request)
    fields = Fields(spec)
    token, token_id = fields.str("token"), fields.str("tokenId")
    user_id, app_id = fields.uuid("userId"), fields.uuid("applicationId")
    fields.problems.raise_if_any()
    if token or token_id:
        if token:
            record = await refresh.find_by_value(rt, token)
        else:
            record = await refresh.find_by_id(rt, token_id or "")
        if record is None:
            raise NotFound()
        await refresh.revoke(rt, record["userId"], [record])
    elif user_id:
        tokens = await refresh.tokens_of_user(rt, user_id)
        if app_id:
            tokens = [t for t in tokens if t["applicationId"] == app_id]
        await refresh.revoke(rt, user_id, tokens, every_token=not app_id)
    elif app_id:
        by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in await refresh.tokens_of_application(rt, app_id):
            by_user[record["userId"]].append(record)
        for owner, tokens in by_user.items():
            await refresh.revoke(rt, owner, tokens)
    else:
        problems = Problems()
        problems.missing("token")
        problems.raise_if_any()
    return empty(200)


async def _revoke_spec(request: web.Request) -> dict[str, Any]:
    """
    The query, a form body (``token`` may hold a ``+``) or a JSON body.
    """
    spec: dict[str, Any] = dict(request.query)
    if "tokenId" in request.match_info:
        spec["tokenId"] = request.match_info["tokenId"]
    if request.content_type == "application/x-www-form-urlencoded":
        spec.update(await request.post())
    elif request.content_type == "application/json":
        spec.update(await read_json(request, optional=True))
    return spec


@routes.get("/api/jwt/public-key")
async def get_public_keys(request: web.Request) -> web.Response:
    rt = runtime(request)
    application_id = request.query.get("applicationId")
    kid = request.query.get("kid") or request.query.get("keyId")
    if application_id:
        pem = keys_admin.public_key_of_application(rt, application_id)
        return json_response({"publicKey": pem})
    if kid:
        return json_response({"publicKey": keys_admin.public_key_by_kid(rt, kid)})
    return json_response({"publicKeys": rt.keyring.public_pems()})


@routes.get("/.well-known/jwks.json")
async def get_jwks(request: web.Request) -> web.Response:
    return json_response(runtime(request).keyring.jwks())
