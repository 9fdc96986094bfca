"""
Login history: recent logins (reference §3.4) and the hourly login report
(reference §3.5), read from the per-partition lists and counters that
``projections.logins`` writes.
"""

from __future__ import annotations

import heapq
from typing import Any

from loginsvc import keys
from loginsvc.runtime import Runtime
from loginsvc.services.system import application
from projections.logins import DAY_MS, HOUR_MS, hour_field
from projections.store import unpack

#: HMGETs (each one partition's day, at most 24 fields) per round trip.
READS_PER_ROUND_TRIP = 64


async def recent_logins(
    rt: Runtime, user_id: str | None, offset: int, limit: int
) -> list[dict[str, Any]]:
    """
    Logins newest first: one user's, or every user's merged over partitions.
    """
    last = offset + limit - 1
    if user_id is not None:
        name = keys.user_recent_logins(rt.user_tag(user_id), user_id)
        raw: Any = await rt.redis.lrange(name, offset, last)
        rows = [unpack(r) for r in raw]
        return [_with_name(rt, row) for row in rows]
    async with rt.redis.pipeline(transaction=False) as pipe_:
        pipe: Any = pipe_
        for partition in range(rt.settings.partitions):
            pipe.lrange(keys.recent_logins(keys.tag(partition)), 0, last)
        lists = await pipe.execute()
    decoded = [[unpack(r) for r in rows] for rows in lists]
    merged = heapq.merge(*decoded, key=lambda row: row["instant"], reverse=True)
    rows = list(merged)[offset : last + 1]
    return [_with_name(rt, row) for row in rows]


def _with_name(rt: Runtime, row: dict[str, Any]) -> dict[str, Any]:
    app = application(rt, row.get("applicationId"))
    return {**row, "applicationName": app.get("name") if app else None}


def report_hours(start: int, end: int, now_ms: int, history_days: int) -> range:
    """
    The hours (since the epoch) a report reads: the requested ones that fall in
    the kept days, up to the day after today (a clock a little ahead).
    """
    today = now_ms // DAY_MS
    first = max(start // HOUR_MS, (today - history_days) * 24)
    last = min(end // HOUR_MS, (today + 2) * 24 - 1)
    return range(first, last + 1)


async def login_report(
    rt: Runtime,
    start: int,
    end: int,
    application_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """
    Hourly login counts between two instants, summed over partitions.

    Any range costs at most the kept days: one HMGET of at most 24 fields per
    day and partition, ``READS_PER_ROUND_TRIP`` of them per round trip, so a
    long report never holds Redis for long. An empty range counts nothing.
    """
    hours = report_hours(start, end, rt.clock(), rt.settings.login_history_days)
    if user_id is not None:
        tags = [rt.user_tag(user_id)]
    else:
        tags = [keys.tag(p) for p in range(rt.settings.partitions)]
    reads = []
    for day in _days(hours):
        # Encoded once per day, not per partition: packing dominates the cost.
        fields = [hour_field(h, application_id, user_id).encode() for h in day]
        reads += [(keys.login_day(tag, day[0] // 24), day, fields) for tag in tags]

    counts = dict.fromkeys(hours, 0)
    for chunk in range(0, len(reads), READS_PER_ROUND_TRIP):
        batch = reads[chunk : chunk + READS_PER_ROUND_TRIP]
        async with rt.redis.pipeline(transaction=False) as pipe_:
            pipe: Any = pipe_
            for key, _day, fields in batch:
                pipe.hmget(key, fields)
            replies = await pipe.execute()
        for (_key, day, _fields), reply in zip(batch, replies, strict=True):
            for hour, value in zip(day, reply, strict=True):
                counts[hour] += int(value or 0)

    hourly = [{"interval": h, "count": n} for h, n in counts.items() if n]
    return {"hourlyCounts": hourly, "total": sum(counts.values())}


def _days(hours: range) -> list[range]:
    """
    ``hours`` cut at UTC day boundaries, so each piece has at most 24 hours.
    """
    midnights = range(hours.start - hours.start % 24, hours.stop, 24)
    return [range(max(m, hours.start), min(m + 24, hours.stop)) for m in midnights]
