"""
User actions: definitions at ``/api/user-action``
(https://fusionauth.io/docs/apis/user-actions) and actions applied to users
at ``/api/user/action`` (https://fusionauth.io/docs/apis/actioning-users).
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.users import path_id
from loginsvc.errors import NotFound
from loginsvc.http import empty, json_response, parse_uuid, query_bool, read_json
from loginsvc.services import actioning, user_actions

routes = web.RouteTableDef()


# ---------------------------------------------------------------- definitions


@routes.post("/api/user-action")
@routes.post("/api/user-action/{userActionId}")
async def create_user_action(request: web.Request) -> web.Response:
    require_api_key(request)
    ident = None
    if "userActionId" in request.match_info:
        ident = path_id(request, "userActionId")
    body = await read_json(request)
    doc = await user_actions.create_definition(runtime(request), body, ident)
    return json_response({"userAction": doc})


@routes.get("/api/user-action")
async def list_user_actions(request: web.Request) -> web.Response:
    require_api_key(request)
    inactive = query_bool(request, "inactive")
    found = user_actions.list_definitions(runtime(request), inactive)
    return json_response({"userActions": found})


@routes.get("/api/user-action/{userActionId}")
async def retrieve_user_action(request: web.Request) -> web.Response:
    require_api_key(request)
    ident = path_id(request, "userActionId")
    doc = user_actions.retrieve_definition(runtime(request), ident)
    return json_response({"userAction": doc})


@routes.put("/api/user-action/{userActionId}")
async def update_user_action(request: web.Request) -> web.Response:
    require_api_key(request)
    ident = path_id(request, "userActionId")
    rt = runtime(request)
    if query_bool(request, "reactivate"):
        doc = await user_actions.set_active(rt, ident, True)
    else:
        body = await read_json(request)
        doc = await user_actions.update_definition(rt, ident, body)
    return json_response({"userAction": doc})


@routes.delete("/api/user-action/{userActionId}")
async def delete_user_action(request: web.Request) -> web.Response:
    require_api_key(request)
    ident = path_id(request, "userActionId")
    rt = runtime(request)
    if query_bool(request, "hardDelete"):
        await user_actions.delete_definition(rt, ident)
    else:
        await user_actions.set_active(rt, ident, False)
    return empty()


# ---------------------------------------------------------------- applied actions


@routes.post("/api/user/action")
async def apply_action(request: web.Request) -> web.Response:
    require_api_key(request)
    body = await read_json(request)
    action = await actioning.apply_action(runtime(request), body)
    return json_response({"action": action})


@routes.get("/api/user/action")
async def list_actions(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = parse_uuid(request.query.get("userId"))
    if user_id is None:
        raise NotFound()
    active = request.query.get("active", "").lower()
    found = await actioning.list_actions(
        runtime(request),
        user_id,
        active=None if active not in ("true", "false") else active == "true",
        preventing=query_bool(request, "preventingLogin"),
    )
    return json_response({"actions": found})


@routes.get("/api/user/action/{actionId}")
async def retrieve_action(request: web.Request) -> web.Response:
    require_api_key(request)
    action_id = path_id(request, "actionId")
    action = await actioning.retrieve_action(runtime(request), action_id)
    return json_response({"action": action})


@routes.delete("/api/user/action/{actionId}")
async def cancel_action(request: web.Request) -> web.Response:
    require_api_key(request)
    action_id = path_id(request, "actionId")
    body = await read_json(request, optional=True)
    action = await actioning.cancel_action(runtime(request), action_id, body)
    return json_response({"action": action})
