"""
Login history: ``/api/user/recent-login`` and ``/api/report/login``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from loginsvc.config import ConfigError, Settings
from loginsvc.runtime import Runtime
from loginsvc.services import history
from tests.api.login_state import (
    call,
    fusionauth,
    make_application,
    make_user,
    password_login,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


async def logins_made(client, rt, clock) -> tuple[dict, str, str]:
    """
    Three logins by two users, in two different hours.
    """
    app = await make_application(rt, name="Reports")
    ann = await make_user(rt, "ann@example.com", app["id"])
    bob = await make_user(rt, "bob@example.com", app["id"])
    await password_login(client, "ann@example.com", app["id"])
    clock.advance(3600)
    await password_login(client, "bob@example.com", app["id"])
    clock.advance(1)
    await call(fusionauth(client).login_ping, ann, app["id"], "9.9.9.9")
    return app, ann, bob


async def test_recent_logins_list_every_users_logins_newest_first(client, rt, clock):
    """
    Without ``userId`` the partitions' lists are merged, newest first.
    """
    app, ann, bob = await logins_made(client, rt, clock)

    response = await call(fusionauth(client).retrieve_recent_logins, 0, 10)

    logins = response.success_response["logins"]
    assert [ann, bob, ann] == [login["userId"] for login in logins]
    assert ["Reports"] * 3 == [login["applicationName"] for login in logins]
    assert "9.9.9.9" == logins[0]["ipAddress"]
    assert "ann@example.com" == logins[0]["loginId"]


async def test_recent_logins_of_one_user_page_with_offset_and_limit(
    client, rt, clock, admin
):
    """
    ``userId`` narrows the list; ``offset`` and ``limit`` page it.
    """
    app, ann, _ = await logins_made(client, rt, clock)

    response = await client.get(
        f"/api/user/recent-login?userId={ann}&offset=1&limit=5", headers=admin
    )

    logins = (await response.json())["logins"]
    assert [ann] == [login["userId"] for login in logins]
    assert "email" == logins[0]["loginIdType"]


async def test_login_report_counts_the_logins_by_hour(client, rt, clock):
    """
    The hourly counts and the total agree with the logins made.
    """
    start = clock()
    app, _, _ = await logins_made(client, rt, clock)

    response = await call(
        fusionauth(client).retrieve_login_report, start, clock(), app["id"]
    )

    body = response.success_response
    first = start // HOUR_MS
    expected = [{"interval": first, "count": 1}, {"interval": first + 1, "count": 2}]
    assert expected == body["hourlyCounts"]
    assert 3 == body["total"]


async def test_login_report_filters_by_user_or_login_id(client, rt, clock, admin):
    """
    ``userId`` and ``loginId`` count one user's logins only.
    """
    start = clock()
    _, ann, _ = await logins_made(client, rt, clock)
    window = f"start={start}&end={clock()}"

    by_user = await client.get(
        f"/api/report/login?{window}&userId={ann}", headers=admin
    )
    by_login = await client.get(
        f"/api/report/login?{window}&loginId=bob@example.com", headers=admin
    )

    assert 2 == (await by_user.json())["total"]
    assert 1 == (await by_login.json())["total"]


async def test_login_report_needs_start_and_end(client, admin):
    """
    Both instants are required: ``[missing]start`` and ``[missing]end``.
    """
    response = await client.get("/api/report/login", headers=admin)

    body = await response.json()
    assert 400 == response.status
    assert {"start", "end"} == set(body["fieldErrors"])


async def test_login_report_with_end_before_start_is_empty(client, admin):
    """
    An empty range counts nothing, as a range query would, rather than failing.
    """
    response = await client.get("/api/report/login?start=7200000&end=0", headers=admin)

    assert 200 == response.status
    assert {"hourlyCounts": [], "total": 0} == await response.json()


def count_round_trips(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> list[Any]:
    """
    Record the commands of every pipeline the runtime's client executes.
    """
    sent: list[Any] = []
    make_pipeline = rt.redis.pipeline

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make_pipeline(*args, **kwargs)
        execute = pipe.execute

        async def counted(*a: Any, **kw: Any) -> Any:
            sent.append([command[0] for command in pipe.command_stack])
            return await execute(*a, **kw)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(rt.redis, "pipeline", pipeline)
    return sent


async def test_a_three_year_report_reads_the_retained_days_in_small_round_trips(
    client, rt, clock, admin, monkeypatch
):
    """
    Each round trip carries at most 64 HMGETs of at most 24 fields each.
    """
    start = clock()
    app, _, _ = await logins_made(client, rt, clock)
    sent = count_round_trips(monkeypatch, rt)
    window = f"start={start - 3 * 366 * DAY_MS}&end={clock()}"

    response = await client.get(f"/api/report/login?{window}", headers=admin)

    assert 3 == (await response.json())["total"]
    assert all(len(commands) <= history.READS_PER_ROUND_TRIP for commands in sent)
    hmgets = [args for commands in sent for args in commands]
    assert all("HMGET" == args[0] and len(args) <= 2 + 24 for args in hmgets)
    days = rt.settings.login_history_days + 2
    assert len(hmgets) <= rt.settings.partitions * days


async def test_login_report_counts_only_the_days_kept_by_the_history_setting(
    client, rt, clock, admin
):
    """
    ``LOGINSVC_LOGIN_HISTORY_DAYS`` bounds how far back the report reads.
    """
    rt.settings = replace(rt.settings, login_history_days=30)
    start = clock()
    await logins_made(client, rt, clock)
    window = f"start={start}&end={start + 40 * DAY_MS}"

    clock.advance(29 * 86_400)
    kept = await client.get(f"/api/report/login?{window}", headers=admin)
    clock.advance(3 * 86_400)
    dropped = await client.get(f"/api/report/login?{window}", headers=admin)

    assert 3 == (await kept.json())["total"]
    assert {"hourlyCounts": [], "total": 0} == await dropped.json()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("0", "at least 1"), ("401", "at most 400"), ("a year", "whole number")],
)
def test_the_history_setting_must_be_within_the_kept_days(raw, problem):
    """
    ``LOGINSVC_LOGIN_HISTORY_DAYS`` is 1 to 400, the days the counters live.
    """
    environ = {"LOGINSVC_LOGIN_HISTORY_DAYS": raw}

    with pytest.raises(ConfigError, match=problem):
        Settings.from_env(environ)


def test_the_history_setting_defaults_to_every_kept_day():
    """
    Unset, the report reads all 400 days; set, it reads fewer.
    """
    assert 400 == Settings.from_env({}).login_history_days
    environ = {"LOGINSVC_LOGIN_HISTORY_DAYS": "90"}
    assert 90 == Settings.from_env(environ).login_history_days
