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
``projections.source``). Each process folding a partition holds that
partition's projection keys and user documents in memory until its swap.

TODO(scale): that memory grows with the users of a partition and the days of
login counters kept (``projections.logins``), not with the number of events:
about 45 KB per user with 50 recent logins each. A partition far larger than
the bench's (625 users) needs the fold to spill keys it has passed (a day's
counters once the stream is past that day; least recently touched keys) to
their staging twins and reload one when a later event touches it.
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

from loginsvc import keys
from projections import indexes
from projections.archive import Archive
from projections.collector import rare_collections
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
from projections.source import pages, still_wanted
from projections.workers import WorkerPool, registering_modules

LOCK_TTL_MS = 30_000
SWAP_ATTEMPTS = 20
#: Keys written to staging per pipeline. A pipeline holds every command (whole
#: lists and hashes) and their packed copies until it runs: 1,000 keys of the
#: bench's log took 30 MB at once, 200 take 13 MB.
STAGE_KEYS = 200

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


async def rebuild(
    redis: Redis,
    partitions: int,
    clock: Clock,
    progress: Progress | None = None,
    batch: int = BATCH,
    archive: Archive | None = None,
    index_grace_s: float = indexes.GRACE_S,
    workers: int | None = None,
) -> RebuildReport:
    """
    Rebuild every projection and index key of every tag from the events.

    Tags are folded in ``workers`` processes (default: one per CPU) when the
    client, clock and archive can be handed to a process; otherwise, or with
    ``workers=1``, one after the other here.
    """
    report = RebuildReport()
    index: set[str] = set()
    async with rebuild_lock(redis):
        tags = keys.all_tags(partitions)
        for tag in tags:
            await delete_matching(redis, keys.staging_pattern(tag))
        still_wanted()
        job = _worker_job(redis, clock, batch, archive)
        count = min(workers or os.cpu_count() or 1, len(tags))
        if job is not None and count > 1:
            index = await _rebuild_in_workers(job, tags, count, report, progress)
        else:
            for tag in tags:
                fold = await _rebuild_tag(
                    redis, tag, clock, report, progress, batch, archive
                )
                index |= await _write_index(redis, fold, batch)
        still_wanted()
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
    step = min(batch, STAGE_KEYS)
    for start in range(0, len(dirty), step):
        async with redis.pipeline(transaction=False) as pipe:
            for key in dirty[start : start + step]:
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
    #: Modules that registered event types, upcasters or writers here, so the
    #: worker folds with the same ones.
    modules: tuple[str, ...]


_POOL_STATE = frozenset({"himport_registry"})
#: Connections a worker process can open again from their settings.
_SOCKETS = (Connection, UnixDomainSocketConnection, SSLConnection)


def _worker_job(
    redis: Redis, clock: Clock, batch: int, archive: Archive | None
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
        tuple(sorted(modules)),
    )
    try:
        pickle.dumps(job)
    except Exception:  # noqa: BLE001  (a lambda clock, a live object ...)
        return None
    return job


def _worker_rebuild(job: _Job, tag: str) -> tuple[RebuildReport, set[str]]:
    """
    Rebuild one tag in a worker process: its report and index keys.
    """
    with rare_collections():
        return asyncio.run(_worker_rebuild_async(job, tag))


async def _worker_rebuild_async(job: _Job, tag: str) -> tuple[RebuildReport, set[str]]:
    pool = ConnectionPool(
        connection_class=job.connection_class, **job.connection_kwargs
    )
    redis = Redis(connection_pool=pool)
    try:
        report = RebuildReport()
        fold = await _rebuild_tag(
            redis, tag, job.clock, report, None, job.batch, job.archive
        )
        return report, await _write_index(redis, fold, job.batch)
    finally:
        await redis.aclose()
        await pool.disconnect()


async def _rebuild_in_workers(
    job: _Job,
    tags: list[str],
    count: int,
    report: RebuildReport,
    progress: Progress | None,
) -> set[str]:
    """
    Rebuild ``tags`` in ``count`` worker processes; the index keys written.

    An interrupt or a failure ends the workers before the lock is released;
    a tag whose swap had not run keeps its live keys.
    """
    index: set[str] = set()
    with WorkerPool(count, job.modules) as pool:
        futures = {pool.submit(_worker_rebuild, job, tag): tag for tag in tags}
        waiting = set(futures)
        while waiting:
            finished, waiting = await asyncio.wait(
                waiting, return_when=asyncio.FIRST_COMPLETED
            )
            for future in finished:
                tag_report, tag_index = future.result()
                report.events += tag_report.events
                report.keys += tag_report.keys
                report.deleted += tag_report.deleted
                index |= tag_index
                if progress is not None:
                    progress(futures[future], tag_report.events)
    return index
