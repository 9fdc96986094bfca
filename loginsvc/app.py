"""
The application factory, used by the CLI and the tests alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from loginsvc import keys
from loginsvc.appkeys import RUNTIME, SETTINGS
from loginsvc.config import ConfigError, Settings, hash_threads_for
from loginsvc.connection import RedisClient, connect, disconnect
from loginsvc.middleware import access_log, errors
from loginsvc.passwords import PasswordHasher
from loginsvc.routes import add_routes
from loginsvc.runtime import Runtime, wall_clock_ms
from loginsvc.services.cache import TAIL_BLOCK_MS, follow
from loginsvc.services.system import ensure_defaults, load_server_key

logger = logging.getLogger(__name__)


def make_app(
    settings: Settings,
    *,
    redis: RedisClient | None = None,
    clock: Callable[[], int] = wall_clock_ms,
) -> web.Application:
    """
    The whole service; ``redis`` and ``clock`` are for tests.
    """
    app = web.Application(
        middlewares=[access_log, errors], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        client = redis if redis is not None else connect(settings)
        threads = settings.hash_threads or hash_threads_for(1)
        hasher = PasswordHasher(
            settings.hash_profile, threads, settings.hash_max_wait_ms
        )
        rt = Runtime(settings=settings, redis=client, hasher=hasher, clock=clock)
        await check_partitions(rt)
        rt.server_key = await load_server_key(rt)
        await ensure_defaults(rt)
        app[RUNTIME] = rt
        stop = asyncio.Event()
        follower = asyncio.create_task(follow(rt, stop))
        yield
        stop.set()
        follower.cancel()
        _, pending = await asyncio.wait({follower}, timeout=TAIL_BLOCK_MS / 1000 + 2)
        if pending:
            logger.warning("system_tail_stop_timed_out")
        hasher.close()
        if redis is None:
            await disconnect(client)

    app.cleanup_ctx.append(runtime_ctx)
    add_routes(app)
    return app


async def check_partitions(rt: Runtime) -> None:
    """
    Record the partition count at first start; refuse a different one later.
    """
    await rt.redis.set(keys.partition_count(), rt.settings.partitions, nx=True)
    raw: Any = await rt.redis.get(keys.partition_count())
    stored = int(raw)
    if stored != rt.settings.partitions:
        raise ConfigError(
            f"'LOGINSVC_PARTITIONS' is {rt.settings.partitions} but this store "
            f"was created with {stored}; partitions change only with a migration."
        )
