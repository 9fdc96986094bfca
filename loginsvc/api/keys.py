"""
The Key API: ``/api/key`` and ``/api/key/generate`` (API key).
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.http import Fields, empty, json_response, parse_uuid, read_json
from loginsvc.services import keys_admin

routes = web.RouteTableDef()


@routes.post("/api/key/generate")
@routes.post("/api/key/generate/{keyId}")
async def post_generate(request: web.Request) -> web.Response:
    require_api_key(request)
    fields = Fields(await read_json(request))
    key = fields.obj("key")
    algorithm = key.str("algorithm", required=True)
    name = key.str("name", required=True)
    length = key.int("length")
    key_id = request.match_info.get("keyId") or key.str("id")
    if key_id is not None and parse_uuid(key_id) is None:
        fields.problems.add("keyId", "couldNotConvert", "Invalid value for 'keyId'.")
    fields.problems.raise_if_any()
    cmd = keys_admin.GenerateKey(
        algorithm or "", name or "", parse_uuid(key_id), length
    )
    body = await keys_admin.generate(runtime(request), cmd)
    return json_response({"key": body})


@routes.get("/api/key")
async def get_keys(request: web.Request) -> web.Response:
    require_api_key(request)
    return json_response({"keys": keys_admin.all_keys(runtime(request))})


@routes.get("/api/key/{keyId}")
async def get_key(request: web.Request) -> web.Response:
    require_api_key(request)
    body = keys_admin.key_view(runtime(request), request.match_info["keyId"])
    return json_response({"key": body})


@routes.delete("/api/key/{keyId}")
async def delete_key(request: web.Request) -> web.Response:
    require_api_key(request)
    await keys_admin.delete(runtime(request), request.match_info["keyId"])
    return empty(200)
