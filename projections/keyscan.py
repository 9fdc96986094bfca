"""
Walking many keys without holding them: names from a SCAN or SSCAN as text,
in batches, filtered by a Redis set. The rebuild's stale-key and index sweeps
share these.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, TypeVar

from redis.asyncio import Redis

T = TypeVar("T")


async def names(raws: AsyncIterable[Any]) -> AsyncIterator[str]:
    """
    Key names from a ``scan_iter``/``sscan_iter``, as text.
    """
    async for raw in raws:
        yield raw.decode() if isinstance(raw, bytes) else str(raw)


async def batches(items: AsyncIterable[T], size: int) -> AsyncIterator[list[T]]:
    """
    ``items`` in lists of ``size`` (the last one shorter, none empty).
    """
    batch: list[T] = []
    async for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def not_members(redis: Redis, members: str, names: list[str]) -> list[str]:
    """
    The ``names`` the set ``members`` does not hold.
    """
    if not names:
        return []
    found = await redis.smismember(members, names)
    return [name for name, member in zip(names, found, strict=True) if not member]
