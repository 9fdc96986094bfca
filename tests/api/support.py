"""
Small helpers the API tests share.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

PASSWORD = "correct horse battery"


def codes(body: dict[str, Any]) -> set[str]:
    """
    Every field-error code of an Errors JSON body.
    """
    return {e["code"] for errs in body.get("fieldErrors", {}).values() for e in errs}


async def create_user(
    client: TestClient, admin: dict[str, str], **user: Any
) -> dict[str, Any]:
    """
    Create a user through the User API; the secured user.
    """
    user.setdefault("password", PASSWORD)
    response = await client.post("/api/user", json={"user": user}, headers=admin)
    assert 200 == response.status, await response.text()
    return dict((await response.json())["user"])


async def get_user(client: TestClient, admin: dict[str, str], query: str) -> Any:
    """
    The status and body of ``GET /api/user{query}``.
    """
    response = await client.get(f"/api/user{query}", headers=admin)
    return response.status, (await response.json() if response.status == 200 else None)
