"""
The projection store: reads aggregate documents and spells their writes.

An aggregate's hash holds ``v`` (how many events it has) and ``d`` (its
document, msgpack). Writes are ``Op``s the event store runs inside the append.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from events.store import Op

Doc = dict[str, Any]


def pack(doc: Doc) -> bytes:
    packed: bytes = msgpack.packb(doc, use_bin_type=True)
    return packed


def unpack(raw: bytes) -> Doc:
    doc: Doc = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    return doc


def document_ops(key: str, doc: Doc | None) -> list[Op]:
    """
    The write that makes the aggregate's hash hold ``doc`` (or no document).
    """
    if doc is None:
        return [Op("HDEL", key, ("d",))]
    return [Op("HSET", key, ("d", pack(doc)))]


class ProjectionStore:
    """
    Reads projected documents from their hashes.
    """

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self._redis = redis

    async def load(self, key: str) -> tuple[int, Doc | None]:
        """
        The aggregate's version and document, ``(0, None)`` when it is unknown.
        """
        reply: Any = await self._redis.hmget(key, ["v", "d"])
        version, raw = reply
        return int(version or 0), (unpack(raw) if raw else None)

    async def load_many(self, keys: Sequence[str]) -> list[tuple[int, Doc | None]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ["v", "d"])  # type: ignore[unused-awaitable]
            replies = await pipe.execute()
        return [(int(v or 0), unpack(d) if d else None) for v, d in replies]

    async def get(self, key: str) -> bytes | None:
        value: Any = await self._redis.get(key)
        return value if value is None else bytes(value)
