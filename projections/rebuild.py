"""
Rebuilding projections from the event streams.

Each partition (hash tag) is folded with the live path's own ``evolve`` and
side-op writers into staging keys, then one Lua call per tag renames them over
the live keys, provided the stream did not move meanwhile; otherwise the new
events are folded in and the swap is tried again. A running service keeps
answering throughout, and an interrupted rebuild leaves the live keys as they
were. Index keys (loginIds, applied user actions) are derived from the
rebuilt user documents (see ``projections.indexes``).

Events come from the archive files first, then the streams (see
``projections.source``). The fold keeps one partition in memory at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

from loginsvc import keys
from projections import indexes
from projections.archive import Archive
from projections.fold import (
    BATCH,
    Clock,
    Progress,
    RebuildError,
    RebuildRunning,
    TagFold,
    fold_records,
    place_documents,
)
from projections.model import Keyspace
from projections.source import pages

LOCK_TTL_MS = 30_000
SWAP_ATTEMPTS = 20

_SWAP = """
-- Anything appended after the folded id means the fold is behind. (Archived
-- entries may already be trimmed, so the stream may end before that id.)
if redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', 1)[1] then
  return 0
end
local staged = tonumber(ARGV[2])
for i = 2, 1 + 2 * staged, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
  else
    redis.call('DEL', KEYS[i + 1])
  end
end
for i = 2 + 2 * staged, #KEYS do
  redis.call('DEL', KEYS[i])
end
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@contextlib.asynccontextmanager
async def rebuild_lock(redis: Redis) -> AsyncIterator[None]:
    """
    Hold the rebuild lock, renewed in the background, or raise RebuildRunning.
    """
    token = secrets.token_hex(16)
    lock = keys.rebuild_lock()
    if not await redis.set(lock, token, nx=True, px=LOCK_TTL_MS):
        raise RebuildRunning(f"Another rebuild is running (it holds '{lock}').")

    async def renew() -> None:
        while True:
            await asyncio.sleep(LOCK_TTL_MS / 3000)
            await redis.eval(_RENEW, 1, lock, token, LOCK_TTL_MS)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        # gather, not suppress: an interrupt landing here must still propagate.
        await asyncio.gather(task, return_exceptions=True)
        await redis.eval(_RELEASE, 1, lock, token)


@dataclass
class RebuildReport:
    """
    What a rebuild did.
    """

    events: int = 0
    keys: int = 0
    deleted: int = 0


async def rebuild(
    redis: Redis,
    partitions: int,
    clock: Clock,
    progress: Progress | None = None,
    batch: int = BATCH,
    archive: Archive | None = None,
    index_grace_s: float = indexes.GRACE_S,
) -> RebuildReport:
    """
    Rebuild every projection and index key of every tag from the events.
    """
    report = RebuildReport()
    index: set[str] = set()
    async with rebuild_lock(redis):
        tags = keys.all_tags(partitions)
        for tag in tags:
            await delete_matching(redis, keys.staging_pattern(tag))
        for tag in tags:
            fold = await _rebuild_tag(
                redis, tag, clock, report, progress, batch, archive
            )
            index |= await _write_index(redis, fold, batch)
        report.deleted += await indexes.drop_stale(
            redis, index, partitions, index_grace_s
        )
    return report


async def _rebuild_tag(
    redis: Redis,
    tag: str,
    clock: Clock,
    report: RebuildReport,
    progress: Progress | None,
    batch: int,
    archive: Archive | None,
) -> TagFold:
    fold, space = TagFold(tag, clock()), Keyspace()
    touched: set[str] = set()
    after = "-"
    for _ in range(SWAP_ATTEMPTS):
        async for page in pages(redis, tag, archive, after, batch):
            fold_records(fold, space, page, clock())
            if progress is not None:
                progress(tag, len(page))
        place_documents(fold, space)
        await _stage(redis, space, clock(), touched, batch)
        stale = await live_keys(redis, tag) - touched
        if await _swap(redis, tag, fold.last_id, sorted(touched), sorted(stale)):
            report.events += fold.count
            report.keys += len(space.values)
            report.deleted += len(stale)
            return fold
        after = fold.last_id
    raise RebuildError(f"Partition '{tag}' kept moving; run the rebuild again.")


async def _stage(
    redis: Redis, space: Keyspace, now: int, touched: set[str], batch: int
) -> None:
    """
    Write the keys changed since the last call to their staging twins.
    """
    space.expire_all(now)
    dirty = sorted(space.dirty)
    space.dirty.clear()
    touched.update(dirty)
    for start in range(0, len(dirty), batch):
        async with redis.pipeline(transaction=False) as pipe:
            for key in dirty[start : start + batch]:
                staged = keys.staging(key)
                pipe.execute_command("DEL", staged)
                for command in space.restore_commands(key, staged):
                    pipe.execute_command(*command)
                if key in space.expires and key in space.values:
                    pipe.execute_command("PEXPIRE", staged, space.expires[key] - now)
            await pipe.execute()


async def _swap(
    redis: Redis, tag: str, last_id: str, staged: list[str], stale: list[str]
) -> bool:
    """
    Rename the staged keys over the live ones if the stream is still at last_id.
    """
    names = [keys.event_stream(tag)]
    for key in staged:
        names.extend((keys.staging(key), key))
    names.extend(stale)
    done = await redis.eval(_SWAP, len(names), *names, last_id, len(staged))
    return bool(done)


async def live_keys(redis: Redis, tag: str) -> set[str]:
    """
    Every projection key of a tag now, the stream excluded.
    """
    stream = keys.event_stream(tag)
    found: set[str] = set()
    async for raw in redis.scan_iter(match=keys.projection_pattern(tag), count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        if key != stream:
            found.add(key)
    return found


async def delete_matching(redis: Redis, pattern: str) -> int:
    deleted = 0
    async for raw in redis.scan_iter(match=pattern, count=1000):
        deleted += int(await redis.delete(raw))
    return deleted


async def _write_index(redis: Redis, fold: TagFold, batch: int) -> set[str]:
    """
    Restore a swapped tag's index entries; the keys its documents hold.
    """
    entries = [
        e for uid, doc in fold.user_docs() for e in indexes.index_entries(uid, doc)
    ]
    await indexes.restore(redis, entries, batch)
    return {key for key, _value in entries}
