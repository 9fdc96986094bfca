"""
A million users, written straight into Redis with pipelining.

Hashing a million passwords would take hours, so every loaded user is a copy
of ``user0``'s document (same registration, same precomputed argon2 hash)
under a new id and email. Only the user hash and the loginId index are
written: what a login reads. No events are written for them.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import msgpack
from redis.asyncio import Redis

from bench import seed
from loginsvc import keys

BATCH = 5000


async def load_users(socket_path: Path, count: int, partitions: int) -> float:
    """
    Write ``count`` users; the seconds it took.
    """
    redis = Redis(unix_socket_path=str(socket_path))
    started = time.perf_counter()
    try:
        found: Any = await redis.get(keys.login_id_index(seed.email(0)))
        template_id = found.decode()
        tag = keys.tag(keys.partition_of(template_id, partitions))
        reply: Any = await redis.hmget(keys.user(tag, template_id), ["v", "d"])
        version, raw = reply
        template = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        for start in range(0, count, BATCH):
            async with redis.pipeline(transaction=False) as pipe_:
                pipe: Any = pipe_
                for index in range(start, min(count, start + BATCH)):
                    user_id = str(uuid.uuid4())
                    email = seed.email(index, "scaled")
                    doc = {**template, "id": user_id, "email": email}
                    tag = keys.tag(keys.partition_of(user_id, partitions))
                    packed = msgpack.packb(doc, use_bin_type=True)
                    pipe.hset(
                        keys.user(tag, user_id), mapping={"v": version, "d": packed}
                    )
                    pipe.set(keys.login_id_index(email), user_id)
                await pipe.execute()
    finally:
        await redis.aclose()
    return time.perf_counter() - started
