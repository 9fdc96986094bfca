"""
What the measured service holds: an application, users, two-factor users.

Users are created through the API (``POST /api/user/registration``), so each
has a real argon2 hash of the service's profile and its ``UserRegistered``
events. The optional million come from ``bench.scale`` instead.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pyotp

API_KEY = "bench-only-key-4d1f7a2c-never-use-it-anywhere-else"
APPLICATION_ID = "0b5e2c7a-3f14-4a8e-b0d2-6c1e9f8a7b53"
PASSWORD = "bench-password-0123"
SEED_CONCURRENCY = 16


def email(index: int, kind: str = "user") -> str:
    return f"{kind}{index}@bench.example"


def write_kickstart(folder: Path) -> Path:
    """
    An API key and an application that issues JWTs and refresh tokens.
    """
    kickstart = {
        "apiKeys": [{"key": API_KEY, "description": "benchmark"}],
        "requests": [
            {
                "method": "POST",
                "url": f"/api/application/{APPLICATION_ID}",
                "body": {
                    "application": {
                        "name": "Bench app",
                        "loginConfiguration": {
                            "requireAuthentication": True,
                            "generateRefreshTokens": True,
                            "allowTokenRefresh": True,
                        },
                        "jwtConfiguration": {
                            "enabled": True,
                            "timeToLiveInSeconds": 3600,
                            "refreshTokenTimeToLiveInMinutes": 43200,
                        },
                    }
                },
            }
        ],
    }
    path = folder / "kickstart.json"
    path.write_text(json.dumps(kickstart))
    return path


async def _bounded(jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(run(j) for j in jobs)))


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with session.post(url, json=body, headers={"Authorization": API_KEY}) as r:
        text = await r.text()
        if r.status != 200:
            raise RuntimeError(f"POST {url} answered {r.status}: {text[:300]}")
        return dict(json.loads(text)) if text else {}


async def create_users(url: str, count: int, kind: str = "user") -> list[str]:
    """
    ``count`` registered users through the API; their ids.
    """
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with aiohttp.ClientSession() as session:
        await _bounded(
            [
                _post(
                    session,
                    f"{url}/api/user/registration/{user_id}",
                    {
                        "user": {"email": email(i, kind), "password": PASSWORD},
                        "registration": {"applicationId": APPLICATION_ID},
                        "skipVerification": True,
                    },
                )
                for i, user_id in enumerate(ids)
            ]
        )
    return ids


async def enable_two_factor(url: str, user_ids: list[str]) -> dict[str, str]:
    """
    An authenticator for each user; their base32 secrets by user id.

    The enabling code is the previous time step's, so the current one stays
    unused for the login that follows (codes are never accepted twice).
    """
    secrets_ = {user_id: pyotp.random_base32() for user_id in user_ids}
    earlier = time.time() - 30
    async with aiohttp.ClientSession() as session:
        await _bounded(
            [
                _post(
                    session,
                    f"{url}/api/user/two-factor/{user_id}",
                    {
                        "method": "authenticator",
                        "secretBase32Encoded": secret,
                        "code": pyotp.TOTP(secret).at(earlier),
                    },
                )
                for user_id, secret in secrets_.items()
            ]
        )
    return secrets_


async def two_factor_ids(url: str, user_ids: list[str]) -> list[str]:
    """
    A pending twoFactorId per user, from the start API (no password work).
    """
    async with aiohttp.ClientSession() as session:
        bodies = await _bounded(
            [
                _post(
                    session,
                    f"{url}/api/two-factor/start",
                    {"userId": user_id, "applicationId": APPLICATION_ID},
                )
                for user_id in user_ids
            ]
        )
    return [b["twoFactorId"] for b in bodies]


async def refresh_tokens(url: str, emails: list[str]) -> list[str]:
    """
    One refresh token per login, from password logins.
    """
    async with aiohttp.ClientSession() as session:
        bodies = await _bounded(
            [
                _post(
                    session,
                    f"{url}/api/login",
                    {
                        "loginId": address,
                        "password": PASSWORD,
                        "applicationId": APPLICATION_ID,
                    },
                )
                for address in emails
            ]
        )
    return [b["refreshToken"] for b in bodies]
