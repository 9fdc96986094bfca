"""
Limits on what a request may carry: each is a clear 400 or 413, never a 500.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from loginsvc.appkeys import SETTINGS
from loginsvc.http import MAX_DEPTH, MAX_STRING
from tests.conftest import API_KEY

HEADERS = {"Authorization": API_KEY, "Content-Type": "application/json"}

#: Endpoints that read a JSON body, with and without an API key.
BODY_ENDPOINTS = [
    "/api/login",
    "/api/two-factor/login",
    "/api/jwt/refresh",
    "/api/user",
]


async def post(client: TestClient, path: str, data: object) -> tuple[int, dict]:
    response = await client.post(path, data=data, headers=HEADERS)
    text = await response.text()
    return response.status, json.loads(text) if text else {}


def codes(body: dict) -> set[str]:
    found = {e["code"] for e in body.get("generalErrors", [])}
    for errors in body.get("fieldErrors", {}).values():
        found |= {e["code"] for e in errors}
    return found


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
async def test_a_body_over_the_limit_gets_413_with_an_errors_body(
    client: TestClient, path: str
) -> None:
    """
    One byte past ``max_body_bytes`` (1 MiB by default) is refused.
    """
    limit = client.app[SETTINGS].max_body_bytes

    status, body = await post(client, path, io.BytesIO(b" " * (limit + 1)))

    assert 413 == status
    assert {"[TooLarge]"} == codes(body)


async def test_a_chunked_body_over_the_limit_gets_413(client: TestClient) -> None:
    """
    Without a Content-Length the limit applies while the body streams in.
    """

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(300):
            yield b" " * 4096

    status, body = await post(client, "/api/login", chunks())

    assert 413 == status
    assert {"[TooLarge]"} == codes(body)


async def test_a_string_longer_than_the_limit_is_a_field_error(
    client: TestClient,
) -> None:
    data = json.dumps({"loginId": "a" * (MAX_STRING + 1), "password": "p"})

    status, body = await post(client, "/api/login", data)

    assert 400 == status
    assert {"[tooLong]loginId"} == codes(body)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
async def test_json_nested_too_deep_gets_400(client: TestClient, depth: int) -> None:
    """
    Past the depth limit, and far past Python's recursion limit, alike.
    """
    data = '{"loginId": "a", "password": "p", "x": ' + "[" * depth + "]" * depth + "}"

    status, body = await post(client, "/api/login", data)

    assert 400 == status
    assert {"[invalidJSON]"} == codes(body)


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"loginId": }']
)
async def test_malformed_or_non_object_json_gets_400(
    client: TestClient, data: bytes
) -> None:
    status, body = await post(client, "/api/login", data)

    assert 400 == status
    assert {"[invalidJSON]"} == codes(body)


@pytest.mark.parametrize("path", ["/api/login", "/api/two-factor/login"])
async def test_a_lone_surrogate_cannot_be_converted(
    client: TestClient, path: str
) -> None:
    """
    ``"\\ud800"`` is valid JSON but no store can keep it.
    """
    data = '{"loginId": "\\ud800", "password": "p", "twoFactorId": "\\ud800"}'

    status, body = await post(client, path, data)

    assert 400 == status
    assert codes(body) <= {
        "[couldNotConvert]loginId",
        "[couldNotConvert]twoFactorId",
        "[blank]code",
    }


async def test_a_header_over_8190_bytes_gets_400(client: TestClient) -> None:
    """
    aiohttp's parser refuses it before any handler runs.
    """
    headers = {**HEADERS, "X-Padding": "a" * 9000}

    response = await client.post("/api/login", data="{}", headers=headers)

    assert 400 == response.status


async def test_too_many_headers_get_400(client: TestClient) -> None:
    headers = {**HEADERS, **{f"X-Extra-{n}": "a" for n in range(200)}}

    response = await client.post("/api/login", data="{}", headers=headers)

    assert 400 == response.status


async def test_a_request_line_over_8190_bytes_gets_400(client: TestClient) -> None:
    response = await client.get("/api/user/" + "a" * 9000, headers=HEADERS)

    assert 400 == response.status
