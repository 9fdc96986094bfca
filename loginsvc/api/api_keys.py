"""
The API Key API: ``/api/api-key`` (https://fusionauth.io/docs/apis/api-keys).
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.users import path_id
from loginsvc.http import empty, json_response, read_json
from loginsvc.services import api_keys

routes = web.RouteTableDef()


@routes.post("/api/api-key")
@routes.post("/api/api-key/{keyId}")
async def create_api_key(request: web.Request) -> web.Response:
    caller = require_api_key(request)
    key_id = path_id(request, "keyId") if "keyId" in request.match_info else None
    body = await read_json(request)
    record = await api_keys.create_key(runtime(request), caller, body, key_id)
    return json_response({"apiKey": record})


@routes.get("/api/api-key/{keyId}")
async def retrieve_api_key(request: web.Request) -> web.Response:
    require_api_key(request)
    record = api_keys.find_key(runtime(request), path_id(request, "keyId"))
    # TODO(parity): FusionAuth shows the key's value here too; only its digest
    # is kept, see https://fusionauth.io/docs/apis/api-keys
    return json_response({"apiKey": api_keys.key_view(record)})


@routes.delete("/api/api-key/{keyId}")
async def delete_api_key(request: web.Request) -> web.Response:
    require_api_key(request)
    await api_keys.delete_key(runtime(request), path_id(request, "keyId"))
    return empty()
