"""
Fuzz the Login API with schemathesis, driven by the corrected subset of
FusionAuth's OpenAPI document (``make_spec.py`` regenerates it): no 5xx, and
every response keeps its documented shape.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import pytest
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from loginsvc.runtime import Runtime
from tests.api.login_state import make_application, make_user
from tests.conftest import API_KEY

SPEC = Path(__file__).with_name("openapi.json")
EXAMPLES = 40
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """
    fakeredis only: the run is about the HTTP layer, and is bounded in time.
    """
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


def fuzz(base_url: str) -> list[str]:
    """
    Run every operation with a fixed seed; the failures, one line each.
    """
    schema = schemathesis.openapi.from_path(SPEC)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            headers = {"Authorization": API_KEY}
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            run()
        # schemathesis raises a BaseExceptionGroup for several failed checks.
        except (Exception, BaseExceptionGroup) as error:
            first = str(error).strip().splitlines()[:6]
            failures.append(f"{operation.label} {mode.value}: {' | '.join(first)}")
    return failures


async def test_the_login_api_answers_fuzzed_requests_without_5xx_or_bad_shapes(
    client: TestClient, rt: Runtime
) -> None:
    """
    A bounded, seeded run over a real HTTP server on 127.0.0.1.
    """
    app = await make_application(rt)
    await make_user(rt, "fuzz@example.com", app["id"])
    base_url = str(client.make_url("")).rstrip("/")

    failures = await asyncio.to_thread(fuzz, base_url)

    assert [] == failures
