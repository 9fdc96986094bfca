"""
The Application API: ``/api/application``.

https://fusionauth.io/docs/apis/applications
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.users import patch_mode, path_id
from loginsvc.http import empty, json_response, query_bool, read_json
from loginsvc.services import applications

routes = web.RouteTableDef()


@routes.post("/api/application")
@routes.post("/api/application/{applicationId}")
async def create_application(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = None
    if "applicationId" in request.match_info:
        app_id = path_id(request, "applicationId")
    body = await read_json(request)
    app = await applications.create_application(runtime(request), body, app_id)
    return json_response({"application": app})


@routes.get("/api/application")
async def list_applications(request: web.Request) -> web.Response:
    require_api_key(request)
    inactive = query_bool(request, "inactive")
    found = applications.list_applications(runtime(request), inactive)
    return json_response({"applications": found})


@routes.get("/api/application/{applicationId}")
async def retrieve_application(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = path_id(request, "applicationId")
    app = applications.retrieve_application(runtime(request), app_id)
    return json_response({"application": app})


@routes.put("/api/application/{applicationId}")
async def update_application(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = path_id(request, "applicationId")
    rt = runtime(request)
    if query_bool(request, "reactivate"):
        app = await applications.set_active(rt, app_id, True)
    else:
        body = await read_json(request)
        app = await applications.update_application(rt, app_id, body)
    return json_response({"application": app})


@routes.patch("/api/application/{applicationId}")
async def patch_application(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = path_id(request, "applicationId")
    mode = patch_mode(request)
    body = await read_json(request)
    app = await applications.update_application(runtime(request), app_id, body, mode)
    return json_response({"application": app})


@routes.delete("/api/application/{applicationId}")
async def delete_application(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = path_id(request, "applicationId")
    rt = runtime(request)
    if query_bool(request, "hardDelete"):
        await applications.delete_application(rt, app_id)
    else:
        await applications.set_active(rt, app_id, False)
    return empty()


@routes.post("/api/application/{applicationId}/role")
@routes.post("/api/application/{applicationId}/role/{roleId}")
async def add_role(request: web.Request) -> web.Response:
    require_api_key(request)
    app_id = path_id(request, "applicationId")
    role_id = path_id(request, "roleId") if "roleId" in request.match_info else None
    body = await read_json(request)
    role = await applications.add_role(runtime(request), app_id, body, role_id)
    return json_response({"role": role})
