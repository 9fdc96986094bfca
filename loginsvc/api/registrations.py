"""
The Registration API: ``/api/user/registration``
(https://fusionauth.io/docs/apis/registrations).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.users import patch_mode, path_id
from loginsvc.http import empty, json_response, read_json
from loginsvc.services import registrations
from loginsvc.views import secured_user

routes = web.RouteTableDef()


def _ids(request: web.Request) -> tuple[str, str | None]:
    user_id = path_id(request, "userId")
    if "applicationId" not in request.match_info:
        return user_id, None
    return user_id, path_id(request, "applicationId")


@routes.post("/api/user/registration")
@routes.post("/api/user/registration/{userId}")
async def register(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id = path_id(request, "userId") if "userId" in request.match_info else None
    body = await read_json(request)
    user, registration = await registrations.register(runtime(request), body, user_id)
    answer: dict[str, Any] = {"registration": registration}
    if user is not None:
        answer["user"] = secured_user(user)
    return json_response(answer)


@routes.get("/api/user/registration/{userId}/{applicationId}")
async def retrieve_registration(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id, app_id = _ids(request)
    assert app_id is not None
    found = await registrations.retrieve_registration(runtime(request), user_id, app_id)
    return json_response({"registration": found})


@routes.put("/api/user/registration/{userId}")
@routes.put("/api/user/registration/{userId}/{applicationId}")
async def update_registration(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id, app_id = _ids(request)
    body = await read_json(request)
    updated = await registrations.update_registration(
        runtime(request), user_id, app_id, body
    )
    return json_response({"registration": updated})


@routes.patch("/api/user/registration/{userId}")
@routes.patch("/api/user/registration/{userId}/{applicationId}")
async def patch_registration(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id, app_id = _ids(request)
    mode = patch_mode(request)
    body = await read_json(request)
    updated = await registrations.update_registration(
        runtime(request), user_id, app_id, body, patch=mode
    )
    return json_response({"registration": updated})


@routes.delete("/api/user/registration/{userId}/{applicationId}")
async def delete_registration(request: web.Request) -> web.Response:
    require_api_key(request)
    user_id, app_id = _ids(request)
    assert app_id is not None
    await registrations.delete_registration(runtime(request), user_id, app_id)
    return empty()
