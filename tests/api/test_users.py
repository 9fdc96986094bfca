"""
The User API over real HTTP: create and retrieve.
"""

from __future__ import annotations

import asyncio
import uuid

from loginsvc.defaults import DEFAULT_TENANT_ID
from tests.api.support import PASSWORD, codes
from tests.api.support import create_user as create
from tests.api.support import get_user as get


async def test_create_user_returns_the_secured_user_with_defaults(client, admin):
    """
    A new user is active, in the default tenant, verified, and has no password.
    """
    user = await create(client, admin, email="Alice@Example.COM", firstName="Al")

    assert "alice@example.com" == user["email"]
    assert "Al" == user["firstName"]
    assert user["active"] is True
    assert user["verified"] is True
    assert DEFAULT_TENANT_ID == user["tenantId"]
    assert "e3306678-a53a-4964-9040-1c96f36dda72" == user["connectorId"]
    assert {} == user["twoFactor"]
    assert "password" not in user
    assert 4 == uuid.UUID(user["id"]).version


async def test_create_user_keeps_the_id_from_the_path(client, admin):
    """
    ``POST /api/user/{userId}`` creates the user under that id.
    """
    user_id = str(uuid.uuid4())

    response = await client.post(
        f"/api/user/{user_id}",
        json={"user": {"username": "Bob", "password": PASSWORD}},
        headers=admin,
    )

    assert 200 == response.status
    assert user_id == (await response.json())["user"]["id"]


async def test_create_user_with_an_existing_id_is_a_duplicate(client, admin):
    """
    A second create under the same id answers ``[duplicate]user.id``.
    """
    user = await create(client, admin, email="a@example.com")

    response = await client.post(
        f"/api/user/{user['id']}",
        json={"user": {"email": "b@example.com", "password": PASSWORD}},
        headers=admin,
    )

    assert 400 == response.status
    assert {"[duplicate]user.id"} == codes(await response.json())
    assert (404, None) == await get(client, admin, "?email=b@example.com")


async def test_create_user_without_email_or_username_blanks_both(client, admin):
    """
    Neither email nor username gives both blank errors, with the password's.
    """
    response = await client.post("/api/user", json={"user": {}}, headers=admin)

    expected = {"[blank]user.email", "[blank]user.username", "[blank]user.password"}
    assert 400 == response.status
    assert expected == codes(await response.json())


async def test_create_user_rejects_an_email_that_is_not_one(client, admin):
    """
    An email without ``@`` answers ``[notEmail]user.email``.
    """
    body = {"user": {"email": "not-an-email", "password": PASSWORD}}

    response = await client.post("/api/user", json=body, headers=admin)

    assert {"[notEmail]user.email"} == codes(await response.json())


async def test_send_set_password_email_makes_the_password_optional(client, admin):
    """
    With ``sendSetPasswordEmail`` a user may be created without a password.
    """
    body = {"user": {"email": "nopass@example.com"}, "sendSetPasswordEmail": True}

    response = await client.post("/api/user", json=body, headers=admin)

    assert 200 == response.status


async def test_password_length_follows_the_tenant_rules(client, admin):
    """
    The default tenant allows 8 to 256 characters.
    """
    short = {"user": {"email": "s@example.com", "password": "short"}}
    long_ = {"user": {"email": "l@example.com", "password": "x" * 257}}

    too_short = await client.post("/api/user", json=short, headers=admin)
    too_long = await client.post("/api/user", json=long_, headers=admin)

    assert {"[tooShort]user.password"} == codes(await too_short.json())
    assert {"[tooLong]user.password"} == codes(await too_long.json())


async def test_duplicate_email_is_refused_whatever_its_case(client, admin):
    """
    Emails are unique case-insensitively.
    """
    await create(client, admin, email="dup@example.com")
    body = {"user": {"email": "DUP@Example.com", "password": PASSWORD}}

    response = await client.post("/api/user", json=body, headers=admin)

    assert 400 == response.status
    assert {"[duplicate]user.email"} == codes(await response.json())


async def test_duplicate_username_is_refused_whatever_its_case(client, admin):
    """
    ``bob`` and ``BoB`` are the same username; the stored case is kept.
    """
    first = await create(client, admin, username="BoB")
    body = {"user": {"username": "bob", "password": PASSWORD}}

    response = await client.post("/api/user", json=body, headers=admin)

    assert "BoB" == first["username"]
    assert {"[duplicate]user.username"} == codes(await response.json())


async def test_every_error_is_reported_at_once(client, admin):
    """
    A duplicate email and a short password come back together.
    """
    await create(client, admin, email="all@example.com")
    body = {"user": {"email": "all@example.com", "password": "x", "data": "no"}}

    response = await client.post("/api/user", json=body, headers=admin)

    expected = {
        "[duplicate]user.email",
        "[tooShort]user.password",
        "[couldNotConvert]user.data",
    }
    assert expected == codes(await response.json())


async def test_values_of_the_wrong_type_cannot_be_converted(client, admin):
    """
    Wrong JSON types and malformed dates give ``[couldNotConvert]``.
    """
    user = {
        "email": "types@example.com",
        "password": PASSWORD,
        "expiry": "soon",
        "birthDate": "2020-13-01",
        "preferredLanguages": "en",
        "passwordChangeRequired": "maybe",
    }

    response = await client.post("/api/user", json={"user": user}, headers=admin)

    expected = {
        "[couldNotConvert]user.expiry",
        "[couldNotConvert]user.birthDate",
        "[couldNotConvert]user.preferredLanguages",
        "[couldNotConvert]user.passwordChangeRequired",
    }
    assert 400 == response.status
    assert expected == codes(await response.json())
    assert (404, None) == await get(client, admin, "?email=types@example.com")


async def test_values_the_store_cannot_keep_are_refused(client, admin):
    """
    Integers beyond 64 bits and lone surrogates give 400, never 500.
    """
    huge = '{"user": {"email": "h@example.com", "password": "%s", "data": {"n": %d}}}'
    surrogate = (
        '{"user": {"email": "s@example.com", "password": "%s", "x": "\\ud800",'
        ' "username": "\\ud800"}}'
    )
    headers = {**admin, "Content-Type": "application/json"}

    first = await client.post(
        "/api/user", data=huge % (PASSWORD, 2**70), headers=headers
    )
    second = await client.post("/api/user", data=surrogate % PASSWORD, headers=headers)

    assert {"[couldNotConvert]user.data.n"} == codes(await first.json())
    expected = {"[couldNotConvert]user.x", "[couldNotConvert]user.username"}
    assert expected == codes(await second.json())


async def test_a_non_object_user_cannot_be_converted(client, admin):
    """
    ``user`` that is not an object is reported as such, with the blanks.
    """
    response = await client.post("/api/user", json={"user": [1]}, headers=admin)

    assert "[couldNotConvert]user" in codes(await response.json())


async def test_user_api_needs_an_api_key(client, admin):
    """
    No key, or a wrong one, answers 401 with an empty body.
    """
    body = {"user": {"email": "k@example.com", "password": PASSWORD}}

    missing = await client.post("/api/user", json=body)
    wrong = await client.get(
        f"/api/user/{uuid.uuid4()}", headers={"Authorization": "wrong-key-value"}
    )

    assert (401, b"") == (missing.status, await missing.read())
    assert (401, b"") == (wrong.status, await wrong.read())
    assert (404, None) == await get(client, admin, "?email=k@example.com")


async def test_retrieve_unknown_or_malformed_user_ids_is_not_found(client, admin):
    """
    Unknown and non-UUID ids answer 404 with an empty body.
    """
    unknown = await client.get(f"/api/user/{uuid.uuid4()}", headers=admin)
    malformed = await client.get("/api/user/not-a-uuid", headers=admin)

    assert (404, b"") == (unknown.status, await unknown.read())
    assert 404 == malformed.status


async def test_users_are_found_by_email_username_and_login_id(client, admin):
    """
    Each lookup ignores case; an email lookup does not match a username.
    """
    user = await create(client, admin, email="find@example.com", username="Finder")

    by_email = await get(client, admin, "?email=FIND@example.com")
    by_username = await get(client, admin, "?username=finder")
    by_login_id = await get(client, admin, "?loginId=FINDER")
    wrong_kind = await get(client, admin, "?email=Finder")

    assert user["id"] == by_email[1]["user"]["id"]
    assert user["id"] == by_username[1]["user"]["id"]
    assert user["id"] == by_login_id[1]["user"]["id"]
    assert (404, None) == wrong_kind


async def test_concurrent_creates_with_one_email_make_one_user(client, admin):
    """
    Of two simultaneous creates with the same email exactly one succeeds.
    """
    bodies = [
        {"user": {"email": "race@example.com", "password": PASSWORD, "firstName": n}}
        for n in ("A", "B")
    ]

    responses = await asyncio.gather(
        *(client.post("/api/user", json=b, headers=admin) for b in bodies)
    )

    assert [200, 400] == sorted(r.status for r in responses)
