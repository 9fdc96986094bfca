"""
The Tenant API: ``/api/tenant`` (https://fusionauth.io/docs/apis/tenants).
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.api.users import patch_mode, path_id
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import field_error
from loginsvc.http import json_response, read_json
from loginsvc.services import tenants

routes = web.RouteTableDef()


def check_tenant_header(request: web.Request) -> None:
    """
    ``X-FusionAuth-TenantId`` may only name the default tenant, the one we serve.
    """
    named = request.headers.get("X-FusionAuth-TenantId")
    if named is not None and named.strip().lower() != DEFAULT_TENANT_ID:
        raise field_error("tenantId", "invalid", "The tenant id is invalid.")


@routes.get("/api/tenant")
async def list_tenants(request: web.Request) -> web.Response:
    require_api_key(request)
    check_tenant_header(request)
    return json_response({"tenants": tenants.list_tenants(runtime(request))})


@routes.get("/api/tenant/{tenantId}")
async def retrieve_tenant(request: web.Request) -> web.Response:
    require_api_key(request)
    check_tenant_header(request)
    found = tenants.retrieve_tenant(runtime(request), path_id(request, "tenantId"))
    return json_response({"tenant": found})


@routes.put("/api/tenant/{tenantId}")
async def update_tenant(request: web.Request) -> web.Response:
    require_api_key(request)
    check_tenant_header(request)
    tenant_id = path_id(request, "tenantId")
    body = await read_json(request)
    updated = await tenants.update_tenant(runtime(request), tenant_id, body)
    return json_response({"tenant": updated})


@routes.patch("/api/tenant/{tenantId}")
async def patch_tenant(request: web.Request) -> web.Response:
    require_api_key(request)
    check_tenant_header(request)
    tenant_id = path_id(request, "tenantId")
    mode = patch_mode(request)
    body = await read_json(request)
    updated = await tenants.update_tenant(runtime(request), tenant_id, body, mode)
    return json_response({"tenant": updated})
