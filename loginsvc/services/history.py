"""
Login history: recent logins (reference §3.4) and the hourly login report
(reference §3.5), read from the per-partition lists and counters that
``projections.logins`` writes.
"""

from __future__ import annotations

import heapq
from typing import Any

from loginsvc import keys
from loginsvc.errors import field_error
from loginsvc.runtime import Runtime
from loginsvc.services.system import application
from projections.logins import HOUR_MS, hour_field
from projections.store import unpack

#: The widest report, in hours: about three years of hourly buckets.
MAX_REPORT_HOURS = 3 * 366 * 24


async def recent_logins(
    rt: Runtime, user_id: str | None, offset: int, limit: int
) -> list[dict[str, Any]]:
    """
    Logins newest first: one user's, or every user's merged over partitions.
    """
    last = offset + limit - 1
    if user_id is not None:
        name = keys.user_recent_logins(rt.user_tag(user_id), user_id)
        rows = [unpack(r) for r in await rt.redis.lrange(name, offset, last)]  # type: ignore[arg-type]
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


async def login_report(
    rt: Runtime,
    start: int,
    end: int,
    application_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """
    Hourly login counts between two instants, summed over partitions.
    """
    first, last = start // HOUR_MS, end // HOUR_MS
    if last - first > MAX_REPORT_HOURS:
        raise field_error("end", "invalid", "The report may span at most three years.")
    hours = list(range(first, last + 1))
    fields = [hour_field(h, application_id, user_id) for h in hours]
    if user_id is not None:
        tags = [rt.user_tag(user_id)]
    else:
        tags = [keys.tag(p) for p in range(rt.settings.partitions)]
    counts = [0] * len(hours)
    async with rt.redis.pipeline(transaction=False) as pipe_:
        pipe: Any = pipe_
        for tag in tags:
            pipe.hmget(keys.login_hours(tag), fields)
        replies = await pipe.execute()
    for reply in replies:
        for index, value in enumerate(reply):
            counts[index] += int(value or 0)
    hourly = [
        {"interval": hour, "count": count}
        for hour, count in zip(hours, counts, strict=True)
        if count
    ]
    return {"hourlyCounts": hourly, "total": sum(counts)}
