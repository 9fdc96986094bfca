"""
``archive``: older events move to checksummed files, and every reader folds
the archive and the trimmed streams together.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from loginsvc import keys
from loginsvc.config import Settings
from projections.archive import MANIFEST, Archive, ArchiveError
from projections.archiver import archive_streams
from projections.rebuild import rebuild
from projections.replay import merged
from projections.verify import verify
from tests.conftest import Clock
from tests.projections.helpers import busy_store, login, snapshot, without_ttl


def later_than_every_entry() -> int:
    return int(time.time() * 1000) + 1000


async def stream_lengths(redis: Redis, partitions: int) -> dict[str, int]:
    tags = keys.all_tags(partitions)
    return {t: await redis.xlen(keys.event_stream(t)) for t in tags}


async def replayed_ids(redis: Redis, partitions: int, archive: Archive) -> list[str]:
    tags = keys.all_tags(partitions)
    return [i async for run in merged(redis, tags, archive) for i, _raw in run]


async def archive_all(redis: Redis, settings: Settings, folder: Path) -> None:
    await archive_streams(redis, settings.partitions, later_than_every_entry(), folder)


async def test_rebuild_from_archive_and_streams_gives_the_same_projections(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
    spilling: dict[str, int],
) -> None:
    """
    After archiving every user event, a rebuild reproduces every projection.
    """
    ids = await busy_store(client, admin)
    await archive_all(redis, settings, tmp_path)
    await login(client, admin, "ada", ids["app"], True)
    before = await snapshot(redis)

    archive = Archive(tmp_path)
    await rebuild(redis, settings.partitions, clock, archive=archive, **spilling)
    report = await verify(redis, settings.partitions, clock, archive=archive)

    assert without_ttl(before) == without_ttl(await snapshot(redis))
    assert [] == report.differences


async def test_archive_trims_user_streams_and_never_the_system_stream(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """
    User partitions are emptied up to the cut; ``{sys}`` keeps every event.
    """
    await busy_store(client, admin)
    lengths = await stream_lengths(redis, settings.partitions)

    report = await archive_streams(
        redis, settings.partitions, later_than_every_entry(), tmp_path
    )

    expected = {t: n if t == keys.SYSTEM_TAG else 0 for t, n in lengths.items()}
    assert expected == await stream_lengths(redis, settings.partitions)
    assert sum(lengths.values()) - lengths[keys.SYSTEM_TAG] == report.trimmed
    assert report.trimmed == report.events


async def test_archiving_twice_for_the_same_range_writes_nothing_twice(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """
    A second run finds nothing new, and replay shows each event once.
    """
    await busy_store(client, admin)
    cut = later_than_every_entry()
    before = await replayed_ids(redis, settings.partitions, Archive(tmp_path))
    await archive_streams(redis, settings.partitions, cut, tmp_path)
    manifest = (tmp_path / MANIFEST).read_text()

    again = await archive_streams(redis, settings.partitions, cut, tmp_path)

    assert 0 == again.events
    assert manifest == (tmp_path / MANIFEST).read_text()
    assert before == await replayed_ids(redis, settings.partitions, Archive(tmp_path))


async def test_a_corrupted_archive_file_is_refused_and_nothing_is_trimmed(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """
    A file whose SHA-256 no longer matches stops archive, rebuild and verify.
    """
    ids = await busy_store(client, admin)
    await archive_all(redis, settings, tmp_path)
    await login(client, admin, "ada", ids["app"], True)
    damaged = next(tmp_path.glob("*/*.mpk.gz"))
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")
    lengths = await stream_lengths(redis, settings.partitions)

    with pytest.raises(ArchiveError, match="SHA-256"):
        await archive_streams(
            redis, settings.partitions, later_than_every_entry(), tmp_path
        )
    with pytest.raises(ArchiveError, match="SHA-256"):
        await rebuild(redis, settings.partitions, clock, archive=Archive(tmp_path))

    assert lengths == await stream_lengths(redis, settings.partitions)


async def test_a_trimmed_stream_is_not_folded_without_its_archive(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """
    Without the archive, a rebuild refuses rather than lose archived events.
    """
    await busy_store(client, admin)
    await archive_all(redis, settings, tmp_path)
    before = await snapshot(redis)

    with pytest.raises(ArchiveError, match="--archive"):
        await rebuild(redis, settings.partitions, clock)

    assert without_ttl(before) == without_ttl(await snapshot(redis))
