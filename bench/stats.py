"""
Medians over runs, and the Redis-side counts: commands per request seen by
MONITOR and memory per user and per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from loginsvc import keys

#: Background commands that belong to no request: the system-cache tail and
#: redis-py's health checks.
BACKGROUND = {"XREAD", "PING", "MONITOR", "CLIENT", "INFO"}


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    """
    The median rate and latencies of several runs of one load.
    """
    return {
        name: statistics.median(float(r[name]) for r in runs)
        for name in ("per_s", "p50_ms", "p99_ms")
    }


def status_counts(runs: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in runs:
        for status, found in run["statuses"].items():
            counts[status] = counts.get(status, 0) + found["count"]
    return counts


async def commands_per_request(
    socket_path: Path, requests: int, action: Callable[[], Awaitable[Any]]
) -> float:
    """
    Top-level commands the server saw per request while ``action`` ran.

    MONITOR tags commands a script runs with ``lua``; those are not round
    trips and are left out, as is background traffic.
    """
    monitor = Redis(unix_socket_path=str(socket_path))
    seen = 0
    async with monitor.monitor() as feed:

        async def listen() -> None:
            nonlocal seen
            while True:
                info = await feed.next_command()
                name = info["command"].split(" ")[0].upper()
                if info["client_type"] != "lua" and name not in BACKGROUND:
                    seen += 1

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(0.1)
        await action()
        await asyncio.sleep(0.3)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    await monitor.aclose()
    return seen / requests


async def memory(
    socket_path: Path, users: list[tuple[str, str]], partitions: int
) -> dict[str, float]:
    """
    Bytes per user (its hash and loginId index) and per stored event.
    """
    redis = Redis(unix_socket_path=str(socket_path))
    try:
        per_user = []
        for user_id, login_id in users[:200]:
            tag = keys.tag(keys.partition_of(user_id, partitions))
            user = await redis.memory_usage(keys.user(tag, user_id)) or 0
            index = await redis.memory_usage(keys.login_id_index(login_id)) or 0
            per_user.append(user + index)
        stream_bytes = events = 0
        for tag in keys.all_tags(partitions):
            stream = keys.event_stream(tag)
            events += await redis.xlen(stream)
            stream_bytes += await redis.memory_usage(stream, samples=0) or 0
        used = (await redis.info("memory"))["used_memory"]
        return {
            "user_bytes": statistics.mean(per_user) if per_user else 0.0,
            "event_bytes": stream_bytes / events if events else 0.0,
            "events": events,
            "used_memory": used,
        }
    finally:
        await redis.aclose()
