"""
Login history: ``/api/user/recent-login`` and ``/api/report/login``.
"""

from __future__ import annotations

from tests.api.login_state import (
    call,
    fusionauth,
    make_application,
    make_user,
    password_login,
)

HOUR_MS = 3_600_000


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
