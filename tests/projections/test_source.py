"""
``stream_pages``: a partition's stream read page by page as ``(entry id,
envelope)`` records, whichever way the client hands XRANGE replies back.
"""

from __future__ import annotations

from typing import Any

import fakeredis
from redis.asyncio import Redis

from loginsvc import keys
from projections.source import stream_pages

TAG = keys.tag(0)


class ClusterLike:
    """
    A client that is no ``Redis``, as a ``RedisCluster`` is: XRANGE parsed.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def xrange(self, *args: Any, **kwargs: Any) -> Any:
        return await self.redis.xrange(*args, **kwargs)


async def read(redis: Any, after: str = "-", count: int = 2) -> list[list[Any]]:
    return [page async for page in stream_pages(redis, TAG, after, count)]


async def filled() -> Redis:
    """
    Five entries; the fourth has another field before ``e``.
    """
    redis = fakeredis.FakeAsyncRedis()
    stream = keys.event_stream(TAG)
    for n in range(1, 6):
        fields = {"origin": "import", "e": b"e%d" % n} if n == 4 else {"e": b"e%d" % n}
        await redis.xadd(stream, fields, id=f"{n}-0")
    return redis


async def test_pages_hold_each_entry_id_and_envelope_in_stream_order() -> None:
    """
    Pages of ``count`` entries; an entry's ``e`` field is found wherever it is.
    """
    redis = await filled()

    expected = [
        [("1-0", b"e1"), ("2-0", b"e2")],
        [("3-0", b"e3"), ("4-0", b"e4")],
        [("5-0", b"e5")],
    ]

    assert expected == await read(redis)


async def test_a_client_that_is_not_redis_gets_the_same_pages() -> None:
    """
    A cluster client keeps redis-py's parsed replies and reads the same records.
    """
    redis = await filled()

    assert await read(redis, "2-0") == await read(ClusterLike(redis), "2-0")


async def test_a_client_that_decodes_replies_keeps_redis_py_parsing_them() -> None:
    """
    With ``decode_responses`` the ids and fields come back as text, as before.
    """
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    await redis.xadd(keys.event_stream(TAG), {"e": "e1"}, id="1-0")

    assert [[("1-0", "e1")]] == await read(redis)
