"""
The User API: ``/api/user`` (https://fusionauth.io/docs/apis/users).
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.errors import NotFound
from loginsvc.http import (
    bad_json,
    empty,
    json_response,
    parse_uuid,
    query_bool,
    read_json,
)
from loginsvc.services import users
from loginsvc.views import secured_user

routes = web.RouteTableDef()

#: The lookups ``GET /api/user`` answers, and what each may match.
_LOOKUPS = {
    "email": ("email",),
    "username": ("username",),
    "loginId": ("email", "username"),
}


def path_id(request: web.Request, name: str) -> str:
    """
    A UUID from the path; anything else names nothing, so 404.
    """
    found = parse_uuid(request.match_info.get(name))
    if found is None:
        raise NotFound()
    return found


def patch_mode(request: web.Request) -> str:
    """
    How a PATCH body merges, from its content type (reference §7.2).
    """
    if request.content_type == "application/merge-patch+json":
        return "rfc7396"
    if request.content_type == "application/json-patch+json":
        # TODO(parity): RFC 6902 JSON Patch bodies are refused, see
        # https://fusionauth.io/docs/apis/users
        raise bad_json("JSON Patch bodies are not supported; send a merge patch.")
    return "merge"


@routes.post("/api/user")
@routes.post("/api/user/{userId}")
async def create_user(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = path_id(request, "userId") if "userId" in request.match_info else None
    body = await read_json(request)
    doc = await users.create_user(runtime(request), body, user_id)
    # TODO(parity): FusionAuth (1.16+) adds token and tokenExpirationInstant
    # here, https://fusionauth.io/docs/apis/users
    return json_response({"user": secured_user(doc)})


@routes.get("/api/user")
async def find_user(request: web.Request) -> web.Response:
    require_api_key(request)
    for name, kinds in _LOOKUPS.items():
        value = request.query.get(name)
        if value:
            doc = await users.find_user(runtime(request), value, kinds)
            return json_response({"user": secured_user(doc)})
    raise NotFound()


@routes.get("/api/user/{userId}")
async def retrieve_user(request: web.Request) -> web.Response:
    require_api_key(request)
    doc = await users.retrieve_user(runtime(request), path_id(request, "userId"))
    return json_response({"user": secured_user(doc)})


@routes.put("/api/user/{userId}")
async def update_user(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = path_id(request, "userId")
    rt = runtime(request)
    if query_bool(request, "reactivate"):
        doc = await users.reactivate_user(rt, user_id)
    else:
        doc = await users.update_user(rt, user_id, await read_json(request))
    return json_response({"user": secured_user(doc)})


@routes.patch("/api/user/{userId}")
async def patch_user(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = path_id(request, "userId")
    mode = patch_mode(request)
    body = await read_json(request)
    doc = await users.update_user(runtime(request), user_id, body, patch=mode)
    return json_response({"user": secured_user(doc)})


@routes.delete("/api/user/{userId}")
async def delete_user(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = path_id(request, "userId")
    body = await read_json(request, optional=True)
    rt = runtime(request)
    if query_bool(request, "hardDelete") or body.get("hardDelete") is True:
        await users.delete_user(rt, user_id)
    else:
        await users.deactivate_user(rt, user_id)
    return empty()
