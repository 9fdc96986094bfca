"""
Bootstrap use cases: API keys and the one-time kickstart claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class KickstartClaim:
    """
    What the claim of an earlier kickstart recorded: when it started, how many
    of its requests succeeded, and when it completed (None if it never did).
    """

    started: int
    requests: int
    sent: int
    completed: int | None


async def claim_kickstart(app: web.Application, requests: int = 0) -> bool:
    """
    True once per store: when no API key exists yet and this call won the claim.

    The claim then records the run's progress (``kickstart_progressed``) and
    completion (``kickstart_completed``), so a later start can tell a finished
    kickstart from one that stopped half-way.
    """
    rt = app[RUNTIME]
    await catch_up(rt)
    if rt.system.all("apikey"):
        return False
    claim = keys.kickstart_claim()
    if not await rt.redis.hsetnx(claim, "started", rt.clock()):
        return False
    await rt.redis.hset(claim, mapping={"requests": requests, "sent": 0})
    return True


async def kickstart_progressed(app: web.Application, sent: int) -> None:
    """
    Record that the first ``sent`` kickstart requests succeeded.
    """
    rt = app[RUNTIME]
    await rt.redis.hset(keys.kickstart_claim(), "sent", sent)


async def kickstart_completed(app: web.Application) -> None:
    """
    Mark the claimed kickstart finished: later starts skip it quietly.
    """
    rt = app[RUNTIME]
    await rt.redis.hset(keys.kickstart_claim(), "completed", rt.clock())


async def earlier_kickstart(app: web.Application) -> KickstartClaim | None:
    """
    The claim an earlier kickstart left in this store, if any.
    """
    rt = app[RUNTIME]
    found = await rt.redis.hgetall(keys.kickstart_claim())
    if not found:
        return None
    completed = found.get(b"completed")
    return KickstartClaim(
        started=int(found[b"started"]),
        requests=int(found.get(b"requests", 0)),
        sent=int(found.get(b"sent", 0)),
        completed=None if completed is None else int(completed),
    )
