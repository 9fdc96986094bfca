"""
API key use cases: create, retrieve and delete keys
(https://fusionauth.io/docs/apis/api-keys).

Only a key's SHA-256 digest is stored, so its value is shown once, in the
create response.
"""

from __future__ import annotations

import copy
from typing import Any

from events import system
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import NotFound, Problems, Unauthorized
from loginsvc.http import Fields
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, retrying
from loginsvc.services.bootstrap import add_api_key
from loginsvc.services.documents import check_storable, raise_problems
from projections.store import Doc

KIND = "apikey"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def key_view(record: Doc) -> Doc:
    """
    A key as FusionAuth shows it, without the digest.
    """
    return {k: copy.deepcopy(v) for k, v in record.items() if k != "digest"}


def find_key(rt: Runtime, key_id: str) -> Doc:
    """
    The key record with this id, or 404.
    """
    for record in rt.system.all(KIND):
        if record.get("id") == key_id:
            return record
    raise NotFound()


def read_key(body: dict[str, Any], key_id: str | None) -> dict[str, Any]:
    """
    The ``apiKey`` of a create request, checked.
    """
    problems = Problems()
    check_storable(body, "", problems)
    f = Fields(body.get("apiKey"), "apiKey.", problems)
    spec = {
        "id": key_id or f.uuid("id"),
        "key": f.str("key"),
        "description": f.str("description"),
        "tenantId": f.uuid("tenantId"),
        "permissions": _permissions(f),
    }
    if spec["tenantId"] not in (None, DEFAULT_TENANT_ID):
        problems.invalid("apiKey.tenantId")
    raise_problems(problems)
    return {k: v for k, v in spec.items() if v is not None}


def _permissions(f: Fields) -> dict[str, Any] | None:
    permissions = f.obj("permissions")
    endpoints = permissions.dict("endpoints")
    if endpoints is None:
        return None if f.raw("permissions") is None else {}
    for methods in endpoints.values():
        if not isinstance(methods, list) or not all(
            isinstance(m, str) and m.upper() in METHODS for m in methods
        ):
            f.problems.invalid("apiKey.permissions.endpoints")
            return None
    return {"endpoints": endpoints}


def check_authority(caller: Doc, spec: dict[str, Any]) -> None:
    """
    A key creates keys of equal or lesser authority only: its tenant, and
    endpoints it may call itself.
    """
    tenant_id = caller.get("tenantId")
    if tenant_id and spec.setdefault("tenantId", tenant_id) != tenant_id:
        raise Unauthorized()
    allowed = (caller.get("permissions") or {}).get("endpoints") or {}
    if not allowed:
        return
    wanted = (spec.get("permissions") or {}).get("endpoints") or {}
    if not wanted:
        raise Unauthorized()
    for endpoint, methods in wanted.items():
        mine = {m.upper() for m in allowed.get(endpoint, [])}
        if not {m.upper() for m in methods} <= mine:
            raise Unauthorized()


async def create_key(
    rt: Runtime, caller: Doc, body: dict[str, Any], key_id: str | None
) -> Doc:
    """
    Create a key; the record with the key's value, shown this once.
    """
    spec = read_key(body, key_id)
    check_authority(caller, spec)

    async def attempt() -> Doc:
        if "id" in spec and any(r.get("id") == spec["id"] for r in rt.system.all(KIND)):
            problems = Problems()
            problems.add("apiKey.id", "duplicate", "An API key with this id exists.")
            raise_problems(problems)
        return key_view(await add_api_key(rt, spec))

    return await retrying(attempt)


async def delete_key(rt: Runtime, key_id: str) -> None:
    """
    Delete a key; it stops authenticating at once in this process.
    """

    async def attempt() -> None:
        record = find_key(rt, key_id)
        await commit_system(rt, KIND, record["digest"], [system.ApiKeyDeleted()])

    await retrying(attempt)
