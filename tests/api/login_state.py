"""
State for the session, refresh, key and report tests, set up through the
event store directly so these tests do not depend on the admin APIs.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from fusionauth.fusionauth_client import FusionAuthClient

from events.system import ApplicationCreated, TenantUpdated
from events.user import UserCreated
from loginsvc import keys
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, commit_user
from loginsvc.services.system import tenant
from tests.conftest import API_KEY

PASSWORD = "correct horse battery"


async def make_application(rt: Runtime, **overrides: Any) -> dict[str, Any]:
    """
    An application that issues refresh tokens and lets them be exchanged.
    """
    app: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "Pied Piper",
        "tenantId": DEFAULT_TENANT_ID,
        "active": True,
        "roles": [],
        "loginConfiguration": {
            "allowTokenRefresh": True,
            "generateRefreshTokens": True,
            "requireAuthentication": True,
        },
        "jwtConfiguration": {"enabled": False},
        **overrides,
    }
    await commit_system(rt, "application", app["id"], [ApplicationCreated(app)])
    return app


async def set_tenant_jwt(rt: Runtime, **settings: Any) -> None:
    """
    Change the default tenant's ``jwtConfiguration``.
    """
    doc = dict(tenant(rt))
    doc["jwtConfiguration"] = {**doc["jwtConfiguration"], **settings}
    await commit_system(rt, "tenant", DEFAULT_TENANT_ID, [TenantUpdated(doc)])


async def make_user(
    rt: Runtime, email: str, *application_ids: str, password: str = PASSWORD
) -> str:
    """
    A user with a password, registered for the applications, findable by email.
    """
    user_id = str(uuid.uuid4())
    doc = {
        "id": user_id,
        "email": email,
        "active": True,
        "verified": True,
        "tenantId": DEFAULT_TENANT_ID,
        "password": await rt.hasher.hash(password),
        "registrations": [
            {"id": str(uuid.uuid4()), "applicationId": a, "roles": []}
            for a in application_ids
        ],
    }
    await commit_user(rt, user_id, 0, None, [UserCreated(doc)])
    await rt.redis.set(keys.login_id_index(email), user_id)
    return user_id


async def password_login(
    client: TestClient, email: str, application_id: str
) -> dict[str, Any]:
    """
    ``POST /api/login``; the response body, which must be a 200.
    """
    body = {"loginId": email, "password": PASSWORD, "applicationId": application_id}
    response = await client.post(
        "/api/login", json=body, headers={"Authorization": API_KEY}
    )
    assert 200 == response.status, await response.text()
    return dict(await response.json())


def fusionauth(client: TestClient, api_key: str = API_KEY) -> FusionAuthClient:
    """
    The official client, pointed at the test server.
    """
    return FusionAuthClient(api_key, str(client.make_url("")))


async def call(method: Any, *args: Any) -> Any:
    """
    Run a blocking client method off the event loop.
    """
    return await asyncio.to_thread(method, *args)
