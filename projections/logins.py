"""
Login history: capped lists of recent logins and hourly login counters, fed
by ``LoggedIn`` and kept per partition (summed or merged on read).

The counters of one partition and UTC day share a hash with one field per
hour, and per hour and application, user, or both, so the login report reads
any filter with one HMGET of at most 24 fields per day. Each day's hash
expires ``RETENTION_DAYS`` after the day ends, so the counters never grow
without bound; the TTL is the remaining lifetime at ``now_ms``, so a rebuild
brings a day back with the same expiry, or not at all once it has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from events.codec import Envelope
from events.login import LoggedIn
from events.store import Op
from loginsvc import keys
from loginsvc.config import MAX_LOGIN_HISTORY_DAYS
from projections.store import pack
from projections.writes import writes_for_runs

#: Recent logins kept per partition and per user (FusionAuth pages by 10).
PARTITION_RECENT = 256
USER_RECENT = 64
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Fixed here rather than read from settings: writers are pure, and a rebuild
#: must expire exactly what the live path expired.
RETENTION_DAYS = MAX_LOGIN_HISTORY_DAYS
NO_APPLICATION = "-"


def login_record(event: LoggedIn, at: int) -> dict[str, Any]:
    """
    The raw login record, as ``/api/user/recent-login`` lists it.
    """
    return {
        "applicationId": event.application_id,
        "instant": at,
        "ipAddress": event.ip_address,
        "loginId": event.login_id,
        "loginIdType": event.login_id_type,
        "userId": event.user_id,
    }


def hour_field(
    hour: int, application_id: str | None = None, user_id: str | None = None
) -> str:
    """
    The counter field of one hour, optionally narrowed to an application or user.
    """
    name = str(hour)
    if application_id:
        name += f":a:{application_id}"
    if user_id:
        name += f":u:{user_id}"
    return name


def day_expires_at(day: int) -> int:
    """
    The instant (ms) a day's counters expire: ``RETENTION_DAYS`` after it ends.
    """
    return (day + 1 + RETENTION_DAYS) * DAY_MS


@writes_for_runs(LoggedIn.TYPE)
def logged_in(tag: str, envelopes: Sequence[Envelope], now_ms: int) -> list[Op]:
    """
    A run of logins: each list gets the records its trim keeps, in one LPUSH,
    and each counter field its count, in one HINCRBY.
    """
    users: dict[str, list[Envelope]] = {}
    apps: dict[str, int] = {}
    hours: dict[tuple[int, str | None, str], int] = {}
    for envelope in envelopes:
        event: LoggedIn = envelope.event
        user_id, app = event.user_id, event.application_id
        users.setdefault(user_id, []).append(envelope)
        name = app or NO_APPLICATION
        apps[name] = apps.get(name, 0) + 1
        counted = (envelope.at // HOUR_MS, app, user_id)
        hours[counted] = hours.get(counted, 0) + 1

    records: dict[int, bytes] = {}

    def pushed(run: Sequence[Envelope], size: int) -> tuple[bytes, ...]:
        kept = run[-size:]
        for envelope in kept:
            if id(envelope) not in records:
                records[id(envelope)] = pack(login_record(envelope.event, envelope.at))
        return tuple(records[id(e)] for e in kept)

    partition = keys.recent_logins(tag)
    ops = [
        Op("LPUSH", partition, pushed(envelopes, PARTITION_RECENT)),
        Op("LTRIM", partition, (0, PARTITION_RECENT - 1)),
    ]
    for user_id, run in users.items():
        user_list = keys.user_recent_logins(tag, user_id)
        ops.append(Op("LPUSH", user_list, pushed(run, USER_RECENT)))
        ops.append(Op("LTRIM", user_list, (0, USER_RECENT - 1)))
    counts = keys.login_counts(tag)
    ops += [Op("HINCRBY", counts, (name, n)) for name, n in apps.items()]

    days: dict[int, dict[str, int]] = {}
    for (hour, app, user_id), n in hours.items():
        fields = days.setdefault(hour * HOUR_MS // DAY_MS, {})
        names = [hour_field(hour), hour_field(hour, user_id=user_id)]
        if app:
            names += [hour_field(hour, app), hour_field(hour, app, user_id)]
        for name in names:
            fields[name] = fields.get(name, 0) + n
    for day, fields in days.items():
        ttl = day_expires_at(day) - now_ms
        if ttl > 0:
            day_key = keys.login_day(tag, day)
            ops += [Op("HINCRBY", day_key, (name, n)) for name, n in fields.items()]
            ops.append(Op("PEXPIRE", day_key, (ttl,)))
    return ops
