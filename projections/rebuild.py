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
``projections.source``), and are folded ``FOLD_EVENTS`` at a time. Each fold
stays within a memory budget by packing its documents and spilling keys to
their staging twins (``projections.spill``); the names of the staged keys
and of the index keys the rebuilt documents hold are kept in Redis sets, not
in the process, so a rebuild's memory does not grow with the log.

TODO(scale): logs of many users with a few events each, and stores with
many keys per user, rebuild slowly. Each slice then touches documents and
keys the budget pushed out, which are unpacked or read back slice after
slice, and the per-key work (staging, swap, index) outweighs the folding:
17,934 events/s for 640,000 users with 3 events each and 4,655 for 100,000
users with 24 refresh tokens each, against 137,628 on the bench's log
(bench/EVENTLOG.md). The swap is one Lua call per partition, which blocks
Redis about 7 us per key it renames (2 s at 312,000 keys), and finding stale
keys scans the whole keyspace once per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import (
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)

from events.codec import decode
from loginsvc import keys
from projections import indexes, keyscan, spill
from projections.archive import Archive
from projections.catalog import side_ops
from projections.collector import rare_collections
from projections.fold import (
    BATCH,
    Clock,
    Progress,
    RebuildError,
    RebuildRunning,
    TagFold,
    fold_page,
    place_documents,
)
from projections.model import Keyspace
from projections.source import pages, still_wanted
from projections.spill import Spill, stage
from projections.workers import WorkerPool, registering_modules

LOCK_TTL_MS = 30_000
SWAP_ATTEMPTS = 20
#: Worker processes a rebuild starts unless told otherwise, at most one per
#: CPU. Each peaks near 120 MB (interpreter, a slice of events, the budget of
#: ``projections.spill``), so two and the command stay under 300 MB; more
#: workers trade memory for speed.
DEFAULT_WORKERS = 2
#: Events decoded and folded at once: a page of new users holds each
#: document twice (event and fold) until the memory budget is checked.
FOLD_EVENTS = 5_000

_SWAP = """
-- Anything appended after the folded id means the fold is behind. (Archived
-- entries may already be trimmed, so the stream may end before that id.)
if redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', 1)[1] then
  return 0
end
-- KEYS[2] names every staged key; each twin is ARGV[2] .. the key without
-- its first ARGV[3] characters (keys.staging), in the same slot.
local renamed = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local twin = ARGV[2] .. string.sub(key, tonumber(ARGV[3]) + 1)
  if redis.call('EXISTS', twin) == 1 then
    redis.call('RENAME', twin, key)
    renamed = renamed + 1
  else
    redis.call('DEL', key)
  end
end
for i = 3, #KEYS do
  redis.call('DEL', KEYS[i])
end
-- 1 + the keys the tag has now: 0 says the swap did not run.
return 1 + renamed
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
    try:
        taken = await redis.set(lock, token, nx=True, px=LOCK_TTL_MS)
    except BaseException:
        # An interrupt can land after Redis set the lock: give it back.
        await _release(redis, lock, token)
        raise
    if not taken:
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
        try:
            # gather, not suppress: an interrupt landing here must propagate.
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await _release(redis, lock, token)


async def _release(redis: Redis, lock: str, token: str) -> None:
    """
    Give the lock back, even when an interrupt lands meanwhile; then let the
    interrupt go on.
    """
    release = asyncio.ensure_future(redis.eval(_RELEASE, 1, lock, token))
    try:
        await asyncio.shield(release)
    except asyncio.CancelledError:
        await release
        raise


@dataclass
class RebuildReport:
    """
    What a rebuild did.
    """

    events: int = 0
    keys: int = 0
    deleted: int = 0
    #: Keys a fold wrote to staging and forgot to stay within its memory budget.
    spilled: int = 0


async def rebuild(
    redis: Redis,
    partitions: int,
    clock: Clock,
    progress: Progress | None = None,
    batch: int = BATCH,
    archive: Archive | None = None,
    index_grace_s: float = indexes.GRACE_S,
    workers: int | None = None,
    hold: int | None = None,
) -> RebuildReport:
    """
    Rebuild every projection and index key of every tag from the events.

    Tags are folded in ``workers`` processes (default: ``DEFAULT_WORKERS``,
    at most one per CPU) when the client, clock and archive can be handed to a
    process; otherwise, or with ``workers=1``, one after the other here. Each
    fold holds about ``hold`` items at most (default
    ``projections.spill.HOLD_ITEMS``).
    """
    hold = spill.HOLD_ITEMS if hold is None else hold
    report = RebuildReport()
    wanted = keys.rebuild_index()
    async with rebuild_lock(redis):
        tags = keys.all_tags(partitions)
        for tag in tags:
            await delete_matching(redis, keys.staging_pattern(tag))
        await redis.delete(wanted)
        still_wanted()
        try:
            job = _worker_job(redis, clock, batch, archive, hold)
            cpus = os.cpu_count() or 1
            count = min(workers or min(cpus, DEFAULT_WORKERS), len(tags))
            if job is not None and count > 1:
                await _rebuild_in_workers(job, tags, count, report, progress)
            else:
                for tag in tags:
                    await _rebuild_tag(
                        redis, tag, clock, report, progress, batch, archive, hold
                    )
            still_wanted()
            report.deleted += await indexes.drop_stale(
                redis, partitions, index_grace_s, wanted=wanted
            )
        finally:
            await redis.delete(wanted)
    return report


async def _rebuild_tag(
    redis: Redis,
    tag: str,
    clock: Clock,
    report: RebuildReport,
    progress: Progress | None,
    batch: int,
    archive: Archive | None,
    hold: int,
) -> None:
    """
    Fold, stage and swap one tag, then restore the index entries it holds.
    """
    fold, space = TagFold(tag, clock()), Keyspace()
    staged = keys.staged_keys(tag)
    held = Spill(redis, fold, space, staged, hold, batch)
    after = "-"
    for _ in range(SWAP_ATTEMPTS):
        async for records in pages(redis, tag, archive, after, batch):
            start = 0
            while start < len(records):
                # A fold past its budget takes smaller slices (less in flight).
                step = FOLD_EVENTS // 2 if held.packed else FOLD_EVENTS
                now = clock()
                page = [
                    decode(raw, entry_id)
                    for entry_id, raw in records[start : start + step]
                ]
                start += step
                ops = list(side_ops(tag, page, now))
                await held.reload(page, ops, now)
                fold_page(fold, space, page, now, ops)
                await held.trim(now)
            if progress is not None:
                progress(tag, len(records))
        place_documents(fold, space)
        await stage(redis, space, clock(), staged, batch)
        stale = await _unstaged(redis, tag, staged, batch)
        swapped = await _swap(redis, tag, staged, fold.last_id, stale)
        if swapped is not None:
            report.events += fold.count
            report.keys += swapped
            report.deleted += len(stale)
            report.spilled += held.spilled
            wanted = keys.rebuild_index()
            if held.packed:
                await indexes.restore_from_documents(
                    redis, staged, keys.user(tag, ""), batch, wanted
                )
            else:
                await indexes.restore(redis, fold.index_entries(), batch, wanted)
            await redis.delete(staged)
            return
        after = fold.last_id
    raise RebuildError(f"Partition '{tag}' kept moving; run the rebuild again.")


async def _swap(
    redis: Redis, tag: str, staged: str, last_id: str, stale: list[str]
) -> int | None:
    """
    Rename the keys the set ``staged`` names over the live ones and delete
    ``stale`` if the stream is still at last_id: how many keys the tag now
    has, or None if the stream moved.
    """
    names = [keys.event_stream(tag), staged, *stale]
    twin = keys.staging("")
    done = await redis.eval(_SWAP, len(names), *names, last_id, twin, len(keys.PREFIX))
    return None if done == 0 else int(done) - 1


async def _unstaged(redis: Redis, tag: str, staged: str, batch: int) -> list[str]:
    """
    The live projection keys of a tag that the set ``staged`` does not name.
    """
    found: list[str] = []
    async for names in keyscan.batches(_projection_keys(redis, tag), batch):
        found += await keyscan.not_members(redis, staged, names)
    return found


async def live_keys(redis: Redis, tag: str) -> set[str]:
    """
    Every projection key of a tag now, the stream excluded.
    """
    return {key async for key in _projection_keys(redis, tag)}


async def _projection_keys(redis: Redis, tag: str) -> AsyncIterator[str]:
    stream = keys.event_stream(tag)
    scanned = redis.scan_iter(match=keys.projection_pattern(tag), count=1000)
    async for key in keyscan.names(scanned):
        if key != stream:
            yield key


async def delete_matching(redis: Redis, pattern: str) -> int:
    deleted = 0
    async for raw in redis.scan_iter(match=pattern, count=1000):
        deleted += int(await redis.delete(raw))
    return deleted


@dataclass(frozen=True)
class _Job:
    """
    What a worker process needs to rebuild one tag on its own connection.
    """

    connection_class: type[Any]
    connection_kwargs: dict[str, Any]
    clock: Clock
    batch: int
    archive: Archive | None
    hold: int
    #: Modules that registered event types, upcasters or writers here, so the
    #: worker folds with the same ones.
    modules: tuple[str, ...]


_POOL_STATE = frozenset({"himport_registry"})
#: Connections a worker process can open again from their settings.
_SOCKETS = (Connection, UnixDomainSocketConnection, SSLConnection)


def _worker_job(
    redis: Redis, clock: Clock, batch: int, archive: Archive | None, hold: int
) -> _Job | None:
    """
    The job for worker processes, or None when this rebuild cannot use them.
    """
    # A RedisCluster client has no single pool: it folds in this process.
    pool = getattr(redis, "connection_pool", None)
    if type(pool) is not ConnectionPool or pool.connection_class not in _SOCKETS:
        return None  # e.g. fakeredis: another process cannot reach its server
    modules = registering_modules()
    if "__main__" in modules:
        return None
    # A pool's own client-side state: the worker's pool makes its own.
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k not in _POOL_STATE}
    job = _Job(
        pool.connection_class,
        kwargs,
        clock,
        batch,
        archive,
        hold,
        tuple(sorted(modules)),
    )
    try:
        pickle.dumps(job)
    except Exception:  # noqa: BLE001  (a lambda clock, a live object ...)
        return None
    return job


def _worker_rebuild(job: _Job, tag: str) -> RebuildReport:
    """
    Rebuild one tag in a worker process: its report.
    """
    with rare_collections():
        return asyncio.run(_worker_rebuild_async(job, tag))


async def _worker_rebuild_async(job: _Job, tag: str) -> RebuildReport:
    pool = ConnectionPool(
        connection_class=job.connection_class, **job.connection_kwargs
    )
    redis = Redis(connection_pool=pool)
    try:
        report = RebuildReport()
        await _rebuild_tag(
            redis, tag, job.clock, report, None, job.batch, job.archive, job.hold
        )
        return report
    finally:
        await redis.aclose()
        await pool.disconnect()


async def _rebuild_in_workers(
    job: _Job,
    tags: list[str],
    count: int,
    report: RebuildReport,
    progress: Progress | None,
) -> None:
    """
    Rebuild ``tags`` in ``count`` worker processes.

    An interrupt or a failure ends the workers before the lock is released;
    a tag whose swap had not run keeps its live keys.
    """
    with WorkerPool(count, job.modules) as pool:
        futures = {pool.submit(_worker_rebuild, job, tag): tag for tag in tags}
        waiting = set(futures)
        while waiting:
            finished, waiting = await asyncio.wait(
                waiting, return_when=asyncio.FIRST_COMPLETED
            )
            for future in finished:
                tag_report = future.result()
                report.events += tag_report.events
                report.keys += tag_report.keys
                report.deleted += tag_report.deleted
                report.spilled += tag_report.spilled
                if progress is not None:
                    progress(futures[future], tag_report.events)
