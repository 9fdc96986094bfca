"""
Committing events: fold them into the aggregate's document, spell the
projection writes and append everything in one atomic call.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from events.codec import Envelope
from events.store import Op
from loginsvc import keys
from loginsvc.errors import ConcurrencyConflict
from loginsvc.runtime import Runtime
from loginsvc.services.cache import apply_system, catch_up
from projections import system as system_projection
from projections import user as user_projection
from projections.catalog import side_ops
from projections.store import Doc, document_ops

T = TypeVar("T")
RETRIES = 16


def envelopes_for(
    aggregate: str, version: int, events: Sequence[Any], at: int
) -> list[Envelope]:
    return [
        Envelope(event, aggregate, version + n, at)
        for n, event in enumerate(events, start=1)
    ]


async def commit_user(
    rt: Runtime,
    user_id: str,
    version: int,
    doc: Doc | None,
    events: Sequence[Any],
    extra_ops: Sequence[Op] = (),
) -> Doc | None:
    """
    Append events to a user aggregate expected at ``version``; the new document.
    """
    tag = rt.user_tag(user_id)
    key = keys.user(tag, user_id)
    now = rt.clock()
    envelopes = envelopes_for(f"user:{user_id}", version, events, now)
    for envelope in envelopes:
        doc = user_projection.evolve(doc, envelope)
    ops = [*document_ops(key, doc), *side_ops(tag, envelopes, now), *extra_ops]
    await rt.events.append(tag, key, version, envelopes, ops)
    return doc


async def commit_system(
    rt: Runtime, kind: str, ident: str, events: Sequence[Any]
) -> Doc | None:
    """
    Append events to a system aggregate at the version this process knows.

    On a conflict the cache catches up first, so the caller's retry sees the
    winner's change.
    """
    tag = keys.SYSTEM_TAG
    key = keys.aggregate(tag, kind, ident)
    version = rt.system.version(kind, ident)
    now = rt.clock()
    envelopes = envelopes_for(f"{kind}:{ident}", version, events, now)
    doc = rt.system.get(kind, ident)
    for envelope in envelopes:
        doc = system_projection.evolve(doc, envelope)
    ops = [*document_ops(key, doc), *side_ops(tag, envelopes, now)]
    try:
        await rt.events.append(tag, key, version, envelopes, ops)
    except ConcurrencyConflict:
        await catch_up(rt)
        raise
    apply_system(rt, envelopes)
    return doc


async def backoff(retry: int) -> None:
    """
    Wait a random, growing moment before retry number ``retry`` (from 0).

    Full jitter spreads requests racing for one aggregate apart, so a burst
    for one user drains instead of colliding again and again.
    """
    await asyncio.sleep(random.uniform(0, min(0.05, 0.001 * 2**retry)))  # noqa: S311


async def retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    """
    Run a read-decide-append step again while its expected version moves.
    """
    for retry in range(RETRIES - 1):
        try:
            return await attempt()
        except ConcurrencyConflict:
            await backoff(retry)
    return await attempt()
