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

from typing import Any

from events.codec import Envelope
from events.login import LoggedIn
from events.store import Op
from loginsvc import keys
from loginsvc.config import MAX_LOGIN_HISTORY_DAYS
from projections.store import pack
from projections.writes import writes_for

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


@writes_for(LoggedIn.TYPE)
def logged_in(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: LoggedIn = envelope.event
    record = pack(login_record(event, envelope.at))
    user_list = keys.user_recent_logins(tag, event.user_id)
    app = event.application_id
    ops = [
        Op("LPUSH", keys.recent_logins(tag), (record,)),
        Op("LTRIM", keys.recent_logins(tag), (0, PARTITION_RECENT - 1)),
        Op("LPUSH", user_list, (record,)),
        Op("LTRIM", user_list, (0, USER_RECENT - 1)),
        Op("HINCRBY", keys.login_counts(tag), (app or NO_APPLICATION, 1)),
    ]

    day = envelope.at // DAY_MS
    ttl = day_expires_at(day) - now_ms
    if ttl <= 0:
        return ops

    hour, day_key = envelope.at // HOUR_MS, keys.login_day(tag, day)
    fields = [hour_field(hour), hour_field(hour, user_id=event.user_id)]
    if app:
        fields += [hour_field(hour, app), hour_field(hour, app, event.user_id)]
    ops += [Op("HINCRBY", day_key, (name, 1)) for name in fields]
    return [*ops, Op("PEXPIRE", day_key, (ttl,))]
