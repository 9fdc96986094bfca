"""
The login-history writer: capped recent lists and per-day hourly counters
that expire with the retention period.
"""

from __future__ import annotations

from events.codec import Envelope
from events.login import LoggedIn
from loginsvc import keys
from projections import logins

TAG = keys.tag(5)
DAY_MS = 86_400_000
#: Midnight UTC plus 90 minutes: hour 1 of the day.
AT = 19_700 * DAY_MS + 5_400_000


def logged_in(app: str | None = "app-1") -> Envelope:
    event = LoggedIn(user_id="u1", authentication_type="PASSWORD", application_id=app)
    return Envelope(event, "login:u1", 0, AT)


def test_hourly_counters_go_to_the_day_key_of_the_login() -> None:
    """
    Every counter of a login lands in its day's hash, one field per filter.
    """
    ops = logins.logged_in(TAG, [logged_in()], AT)

    day_key = keys.login_day(TAG, 19_700)
    fields = [op.args[0] for op in ops if op.command == "HINCRBY" and op.key == day_key]
    hour = AT // logins.HOUR_MS
    expected = [f"{hour}", f"{hour}:u:u1", f"{hour}:a:app-1", f"{hour}:a:app-1:u:u1"]
    assert expected == fields


def test_a_day_key_expires_the_retention_period_after_its_day_ends() -> None:
    """
    The TTL is the remaining lifetime, so a rebuild a day later agrees.
    """
    retained_until = 19_701 * DAY_MS + logins.RETENTION_DAYS * DAY_MS
    later = AT + DAY_MS

    live = logins.logged_in(TAG, [logged_in()], AT)
    rebuilt = logins.logged_in(TAG, [logged_in()], later)

    expires = [op for op in live if op.command == "PEXPIRE"]
    assert [keys.login_day(TAG, 19_700)] == [op.key for op in expires]
    assert (retained_until - AT,) == expires[0].args
    assert (retained_until - later,) == rebuilt[-1].args


def test_an_expired_day_writes_no_counters_but_keeps_the_recent_lists() -> None:
    """
    Rebuilding after the retention period skips the day's counters.
    """
    after = 19_701 * DAY_MS + logins.RETENTION_DAYS * DAY_MS

    ops = logins.logged_in(TAG, [logged_in(None)], after)

    day_key = keys.login_day(TAG, 19_700)
    assert [] == [op for op in ops if op.key == day_key]
    assert {keys.recent_logins(TAG), keys.user_recent_logins(TAG, "u1")} <= {
        op.key for op in ops
    }
