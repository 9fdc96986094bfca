"""
Where a partition's events come from: its archive files first, then its stream
after the last archived entry id, so a trimmed stream loses nothing and no
event is read twice.

Records are ``(entry id, encoded envelope)`` pairs, read a page at a time; the
callers decode only what they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from events.store import later
from loginsvc import keys
from projections.archive import Archive, ArchiveError

Record = tuple[str, bytes]

#: Stream entries fetched per XRANGE call.
PAGE = 10_000


def still_wanted() -> None:
    """
    Raise ``CancelledError`` if this task was asked to stop.

    redis-py 8 can swallow a cancellation that reaches a command before its
    reply (the kind Ctrl-C sends mid-fold through ``asyncio.run``): the
    command returns as if nothing happened and a long run would go on to the
    end. The request is still counted on the task, so the readers look.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def stream_pages(
    redis: Redis, tag: str, after: str = "-", count: int = PAGE
) -> AsyncIterator[list[Record]]:
    """
    A tag's stream entries after the entry id ``after``, page by page.
    """
    stream = keys.event_stream(tag)
    unparsed = _unparsed(redis)
    while True:
        start = "-" if after in ("-", "0", "0-0") else f"({after}"
        if unparsed is None:
            entries: Any = await redis.xrange(stream, min=start, count=count)
            page = [(_text(i), f.get(b"e") or f["e"]) for i, f in entries]
        else:
            entries = await unparsed.xrange(stream, min=start, count=count)
            page = [(i.decode(), f[1]) for i, f in entries if f[0] == b"e"]
            if len(page) < len(entries):
                page = [(i.decode(), _envelope(f)) for i, f in entries]
        still_wanted()
        if page:
            yield page
            after = page[-1][0]
        if len(page) < count:
            return


def _unparsed(redis: Redis) -> Redis | None:
    """
    A client on ``redis``'s connections whose XRANGE replies stay as Redis sent
    them, or None for a cluster client or one that decodes replies.

    Turning each entry's field list into a dict took half of the time spent
    reading a page (issue #5), and the store appends the one field ``e``.
    """
    if not isinstance(redis, Redis):
        return None
    if redis.connection_pool.connection_kwargs.get("decode_responses"):
        return None
    client = Redis(connection_pool=redis.connection_pool)
    client.set_response_callback("XRANGE", _as_sent)
    return client


def _as_sent(response: Any, **options: Any) -> Any:
    return response


def _envelope(fields: list[bytes]) -> bytes:
    return dict(zip(fields[::2], fields[1::2], strict=True))[b"e"]


async def archived_until(redis: Redis, tag: str) -> str | None:
    """
    The last entry id archived (and trimmed) from a tag's stream, if any.
    """
    raw = await redis.hget(keys.archive_state(), tag)
    return None if raw is None else _text(raw)


async def pages(
    redis: Redis,
    tag: str,
    archive: Archive | None,
    after: str = "-",
    count: int = PAGE,
) -> AsyncIterator[list[Record]]:
    """
    A tag's events after ``after``: archived ones first, then the stream's.
    """
    trimmed = await archived_until(redis, tag)
    if trimmed is not None and archive is None:
        raise ArchiveError(
            f"Partition '{tag}' was archived up to {trimmed}; pass --archive with "
            "the archive folder."
        )
    last = after
    if archive is not None:
        for page in archive.pages(tag, after, count):
            yield page
            last = page[-1][0]
        end = archive.last_id(tag)
        if trimmed is not None and (end is None or later(end, trimmed) != end):
            raise ArchiveError(
                f"The archive ends partition '{tag}' at {end or 'nothing'}, but "
                f"its stream was trimmed up to {trimmed}."
            )
    async for page in stream_pages(redis, tag, _later(last, archive, tag), count):
        yield page


def _later(after: str, archive: Archive | None, tag: str) -> str:
    end = archive.last_id(tag) if archive is not None else None
    return after if end is None else later(after, end)
