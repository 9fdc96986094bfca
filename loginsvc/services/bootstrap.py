"""
Bootstrap use cases: API keys and the one-time kickstart claim.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from events import system
from loginsvc import keys
from loginsvc.appkeys import RUNTIME
from loginsvc.errors import Problems
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system
from loginsvc.services.cache import catch_up
from loginsvc.services.system import api_key_digest


async def add_api_key(rt: Runtime, spec: dict[str, Any]) -> dict[str, Any]:
    """
    Create an API key from a FusionAuth ``apiKey`` object; the record, no key.
    """
    problems = Problems()
    raw = spec.get("key")
    if raw is None:
        raw = uuid.uuid4().hex + uuid.uuid4().hex
    if not isinstance(raw, str) or len(raw.strip()) < 8 or raw != raw.strip():
        problems.add(
            "apiKey.key", "invalid", "The API key must be at least 8 characters."
        )
    permissions = spec.get("permissions")
    if permissions is not None and not isinstance(permissions, dict):
        problems.invalid("apiKey.permissions")
    problems.raise_if_any()
    digest = api_key_digest(str(raw))
    if rt.system.get("apikey", digest) is not None:
        problems.add("apiKey.key", "duplicate", "An API key with this value exists.")
        problems.raise_if_any()
    key_id = str(spec.get("id") or uuid.uuid4())
    event = system.ApiKeyCreated(
        key_id=key_id,
        digest=digest,
        description=spec.get("description"),
        tenant_id=spec.get("tenantId"),
        permissions=permissions,
    )
    record = await commit_system(rt, "apikey", digest, [event])
    assert record is not None
    return {**record, "key": raw}


async def create_api_key(app: web.Application, spec: dict[str, Any]) -> None:
    """
    Create one kickstart ``apiKeys[]`` entry.
    """
    await add_api_key(app[RUNTIME], spec)


async def claim_kickstart(app: web.Application) -> bool:
    """
    True once per store: when no API key exists yet and this call won the claim.
    """
    rt = app[RUNTIME]
    await catch_up(rt)
    if rt.system.all("apikey"):
        return False
    claimed = await rt.redis.set(keys.kickstart_claim(), rt.clock(), nx=True)
    return bool(claimed)
