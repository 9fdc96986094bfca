"""
``GET /api/status``: 200 while Redis answers, 503 with a JSON body otherwise.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError

from loginsvc.api.auth import runtime
from loginsvc.http import json_response

routes = web.RouteTableDef()


@routes.get("/api/status")
async def status(request: web.Request) -> web.Response:
    rt = runtime(request)
    try:
        async with asyncio.timeout(rt.settings.redis_timeout_s):
            await rt.redis.ping()
    except (RedisError, OSError, TimeoutError) as error:
        reason = (
            "Redis did not answer in time."
            if isinstance(error, TimeoutError)
            else "Redis is unreachable."
        )
        return json_response({"status": "unavailable", "redis": reason}, 503)
    return json_response({"status": "ok"})
