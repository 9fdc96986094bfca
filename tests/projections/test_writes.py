"""
Run writers: a run of events written at once leaves the keys exactly as
writing each event in turn does, which is what lets a rebuild write a page of
logins in a few commands while the live path writes one login at a time.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from events.codec import Envelope
from events.login import LoggedIn, LoginAttempted, TwoFactorIssued
from events.two_factor import TwoFactorCompleted
from loginsvc import keys
from projections import logins
from projections.catalog import side_ops
from projections.model import Keyspace

TAG = keys.tag(3)
DAY_MS = logins.DAY_MS
#: "Now" of the fold: the first generated day is past its retention period.
NOW = (20_000 + logins.RETENTION_DAYS + 1) * DAY_MS + 1

users = st.sampled_from(["u1", "u2", "u3"])
instants = st.integers(min_value=19_999 * DAY_MS, max_value=20_002 * DAY_MS)


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    user, at = draw(users), draw(instants)
    kind = draw(st.sampled_from(["in", "in", "in", "attempt", "issued", "completed"]))
    digest = draw(st.sampled_from(["d1", "d2"]))
    event: Any
    if kind == "in":
        app = draw(st.sampled_from([None, "app-1", "app-2"]))
        event = LoggedIn(user, "PASSWORD", app, True, "10.0.0.1", f"{user}@x", "email")
    elif kind == "attempt":
        event = LoginAttempted(f"{user}@x", "wrongPassword", user, None, None, 1)
    elif kind == "issued":
        event = TwoFactorIssued(user, digest, 300)
    else:
        event = TwoFactorCompleted(user, digest)
    return Envelope(event, f"user:{user}", 1, at)


def written(runs: list[list[Envelope]], now: int) -> dict[str, Any]:
    space = Keyspace()
    for run in runs:
        for op in side_ops(TAG, run, now):
            space.run(op, now)
    space.expire_all(now)
    return {"values": space.values, "expires": space.expires}


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    before=st.lists(envelopes(), max_size=8),
    events=st.lists(envelopes(), max_size=40),
    later=st.integers(min_value=0, max_value=2 * DAY_MS),
)
def test_a_run_writes_what_its_events_write_one_by_one(
    before: list[Envelope], events: list[Envelope], later: int
) -> None:
    """
    Small caps make the trims bite; ``before`` gives the lists old entries.
    """
    now = NOW + later
    with (
        mock.patch.object(logins, "PARTITION_RECENT", 5),
        mock.patch.object(logins, "USER_RECENT", 3),
    ):
        one_by_one = written([before, *([e] for e in events)], now)
        at_once = written([before, events], now)

    assert one_by_one == at_once


def test_a_run_of_logins_pushes_each_list_once_with_what_its_trim_keeps() -> None:
    """
    Ten logins of one user: two LPUSHes (partition and user list) of the
    newest records only, and one HINCRBY per counter field.
    """
    run = [
        Envelope(LoggedIn("u1", "PASSWORD", "app-1"), "login:u1", 0, NOW + i)
        for i in range(10)
    ]
    with mock.patch.object(logins, "USER_RECENT", 4):
        ops = logins.logged_in(TAG, run, NOW)

    pushes = {op.key: len(op.args) for op in ops if op.command == "LPUSH"}
    assert {keys.recent_logins(TAG): 10, keys.user_recent_logins(TAG, "u1"): 4} == (
        pushes
    )
    day_key = keys.login_day(TAG, NOW // DAY_MS)
    counters = [op.args for op in ops if op.key == day_key and op.command == "HINCRBY"]
    assert 4 == len(counters)
    assert {10} == {n for _field, n in counters}
