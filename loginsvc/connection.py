"""
The Redis client for ``LOGINSVC_REDIS_URL``: one server, a cluster or the
primary Sentinel names. Kept apart from the web app so the event-log
commands start without loading it.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from loginsvc.config import ConfigError, SentinelUrl, Settings

#: What ``connect`` returns: a ``Redis`` (one server, or the primary a Sentinel
#: names) or a ``RedisCluster``. Every atomic step keeps its keys in one hash
#: slot, so the service sends both the same commands.
RedisClient: TypeAlias = Redis | RedisCluster


def connect(settings: Settings, reply_timeout_s: float | None = None) -> RedisClient:
    """
    A client for ``LOGINSVC_REDIS_URL`` as ``LOGINSVC_REDIS_MODE`` says: one
    server (``redis://``, ``rediss://``, ``unix://``), a cluster (any node's
    ``redis://`` URL) or the primary Sentinel names (``SentinelUrl``).

    Replies are awaited ``reply_timeout_s`` (default: as long as connecting
    may take, ``redis_timeout_s``).
    """
    url = settings.redis_url
    if not url:
        raise ConfigError("'LOGINSVC_REDIS_URL' is not set and no Redis was started.")
    timeouts: dict[str, Any] = {
        "socket_timeout": reply_timeout_s or settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
    }
    if settings.redis_mode == "cluster":
        # max_connections is per node here.
        return RedisCluster.from_url(
            url, health_check_interval=10, max_connections=256, **timeouts
        )
    if settings.redis_mode == "sentinel":
        where = SentinelUrl.parse(url)
        sentinel = Sentinel(where.sentinels, sentinel_kwargs=timeouts, **timeouts)
        primary: Redis = sentinel.master_for(
            where.master,
            db=where.db,
            username=where.username,
            password=where.password,
            health_check_interval=10,
            max_connections=256,
            **timeouts,
        )
        return primary
    return Redis.from_url(
        url, health_check_interval=10, max_connections=256, **timeouts
    )


async def disconnect(client: RedisClient) -> None:
    """
    Close a client from ``connect``, and a Sentinel's connections to its sentinels.
    """
    await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()
