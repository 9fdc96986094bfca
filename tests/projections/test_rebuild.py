"""
``rebuild``: every projection key comes back byte for byte from the streams.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import fakeredis
import msgpack
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from events import codec
from events.codec import Envelope
from events.store import Op
from loginsvc import keys
from loginsvc.config import Settings
from loginsvc.runtime import Runtime
from projections.rebuild import RebuildRunning, live_keys, rebuild
from projections.writes import writes_for
from tests.conftest import Clock
from tests.projections.helpers import busy_store, snapshot, ttl_drift, without_ttl


async def test_rebuild_reproduces_every_projection_key_byte_for_byte(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    """
    State made through the HTTP API survives a rebuild unchanged, TTLs included,
    whether the fold holds every key or spills them to staging as it goes.
    """
    await busy_store(client, admin)
    before = await snapshot(redis)

    report = await rebuild(redis, settings.partitions, clock, **spilling)
    after = await snapshot(redis)

    assert without_ttl(before) == without_ttl(after)
    assert ttl_drift(before, after) < 2000
    if not spilling:
        assert 0 == report.spilled
    elif spilling["hold"] == 0:
        assert 0 < report.spilled
    tags = keys.all_tags(settings.partitions)
    assert sum([len(await live_keys(redis, tag)) for tag in tags]) == report.keys


async def test_rebuild_restores_dropped_and_removes_stray_projection_keys(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    rt: Runtime,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    """
    Deleted projection keys come back and keys no event made are dropped.
    """
    ids = await busy_store(client, admin)
    before = await snapshot(redis)
    tag = rt.user_tag(ids["ada"])
    await redis.delete(keys.user(tag, ids["ada"]), keys.login_id_index("ada"))
    await redis.set(keys.user(tag, "ghost"), "boo")
    await redis.set(keys.login_id_index("ghost@example.com"), "ghost")

    report = await rebuild(
        redis, settings.partitions, clock, index_grace_s=0, **spilling
    )

    assert without_ttl(before) == without_ttl(await snapshot(redis))
    assert 2 == report.deleted


async def test_rebuild_leaves_streams_and_cleans_old_staging_keys(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    Staging keys of an interrupted rebuild are removed; streams stay as they were.
    """
    await busy_store(client, admin)
    streams = {t: await redis.xlen(keys.event_stream(t)) for t in keys.all_tags(4)}
    leftover = keys.staging(keys.user(keys.tag(1), "half-done"))
    await redis.hset(leftover, "v", 1)

    await rebuild(redis, settings.partitions, clock)

    assert streams == {t: await redis.xlen(keys.event_stream(t)) for t in streams}
    assert 0 == await redis.exists(leftover, keys.rebuild_index())


async def test_a_second_rebuild_is_refused_while_one_runs() -> None:
    """
    The lock key makes a concurrent rebuild fail at once.
    """
    redis = fakeredis.FakeAsyncRedis()
    await redis.set(keys.rebuild_lock(), "someone-else")

    with pytest.raises(RebuildRunning):
        await rebuild(redis, 4, lambda: 0)

    assert b"someone-else" == await redis.get(keys.rebuild_lock())


async def test_rebuild_releases_its_lock_when_done() -> None:
    """
    After a rebuild, the lock key is gone, so the next one may start.
    """
    redis = fakeredis.FakeAsyncRedis()

    await rebuild(redis, 2, lambda: 0)

    assert 0 == await redis.exists(keys.rebuild_lock())


async def test_rebuild_keeps_live_writes_made_while_it_ran(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    """
    A login committed during the rebuild is in the projection after the swap.
    """
    from tests.projections.helpers import login

    ids = await busy_store(client, admin)

    async def log_in_soon() -> int:
        await asyncio.sleep(0)
        return await login(client, admin, "ada", ids["app"], True)

    _, status = await asyncio.gather(
        rebuild(redis, settings.partitions, clock, **{**spilling, "batch": 1}),
        log_in_soon(),
    )
    after = await snapshot(redis)
    await rebuild(redis, settings.partitions, clock)

    assert 200 == status
    assert without_ttl(after) == without_ttl(await snapshot(redis))


@dataclass(frozen=True, slots=True)
class NoteTaken:
    """
    A test-only event whose v1 had ``text``; v2 renamed it ``note``.
    """

    TYPE: ClassVar[str] = "TestOnlyNoteTaken"
    VERSION: ClassVar[int] = 2
    note: str


def upcast_note_taken_v1_to_v2(data: dict[str, object]) -> dict[str, object]:
    return {"note": data["text"]}


codec.register([NoteTaken])
codec.register_upcaster(NoteTaken.TYPE, 1, upcast_note_taken_v1_to_v2)


@writes_for(NoteTaken.TYPE)
def _noted(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    return [Op("LPUSH", keys.recent_logins(tag), (envelope.event.note,))]


async def test_rebuild_upcasts_events_stored_in_an_old_version() -> None:
    """
    A v1 event in the stream is upcast to v2 before the writers see it.
    """
    redis = fakeredis.FakeAsyncRedis()
    old = {
        "t": NoteTaken.TYPE,
        "sv": 1,
        "a": "attempt:x",
        "n": 0,
        "at": 1,
        "d": {"text": "hello"},
    }
    await redis.xadd(keys.event_stream(keys.tag(0)), {"e": msgpack.packb(old)})

    await rebuild(redis, 1, lambda: 1)

    assert [b"hello"] == await redis.lrange(keys.recent_logins(keys.tag(0)), 0, -1)
