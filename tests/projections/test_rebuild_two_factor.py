"""
A rebuild brings back pending twoFactorIds with what is left of their five
minutes, and drops the ones that expired, by the clock it is given.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from loginsvc import keys, totp
from loginsvc.config import Settings
from loginsvc.runtime import Runtime
from projections.rebuild import rebuild
from tests.api.test_two_factor import (
    Api,
    challenge,
    enable,
    new_application,
    new_user,
    two_factor_id,
)
from tests.api.test_two_factor_parity import lock_after
from tests.conftest import Clock
from tests.projections.helpers import snapshot, ttl_drift, without_ttl


async def pending_ttl_ms(redis: Redis, rt: Runtime, user_id: str) -> list[int]:
    pattern = keys.two_factor_pending(rt.user_tag(user_id), "*")
    return [await redis.pttl(k) async for k in redis.scan_iter(match=pattern)]


async def test_rebuild_keeps_a_pending_two_factor_id_with_its_remaining_lifetime(
    client: TestClient,
    redis: Redis,
    rt: Runtime,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    fa = Api(client)
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    clock.advance(31)
    response = await challenge(fa, rt, user_id)
    assert 242 == response.status
    clock.advance(100)

    await rebuild(redis, settings.partitions, clock, **spilling)

    [remaining] = await pending_ttl_ms(redis, rt, user_id)
    assert 195_000 <= remaining <= 200_000


async def test_rebuild_drops_a_pending_two_factor_id_that_expired(
    client: TestClient,
    redis: Redis,
    rt: Runtime,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    fa = Api(client)
    user_id = await new_user(rt)
    secret, _ = await enable(fa, user_id, clock)
    clock.advance(31)
    two_factor_id = (await challenge(fa, rt, user_id)).success_response["twoFactorId"]
    clock.advance(301)

    await rebuild(redis, settings.partitions, clock, **spilling)

    code = totp.current_code(secret, clock.now / 1000)
    late = await fa.call(
        "two_factor_login", {"twoFactorId": two_factor_id, "code": code}
    )
    assert [] == await pending_ttl_ms(redis, rt, user_id)
    assert 404 == late.status


async def test_rebuild_reproduces_revoked_ids_start_codes_and_required_setups(
    client: TestClient,
    redis: Redis,
    rt: Runtime,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    """
    Pending ids with one-time codes, ids a lockout revoked and the user's
    pending digests all come back from the streams as the live path left them.
    """
    fa = Api(client)
    await lock_after(rt, 1)
    locked = await new_user(rt)
    await enable(fa, locked, clock)
    spare = await two_factor_id(fa, rt, locked)
    wrong = {"twoFactorId": await two_factor_id(fa, rt, locked), "code": "000000"}
    assert 409 == (await fa.call("two_factor_login", wrong)).status
    started = await new_user(rt)
    await enable(fa, started, clock)
    await fa.ok("start_two_factor_login", {"userId": started})
    app_id = await new_application(
        rt, multiFactorConfiguration={"loginPolicy": "Required"}
    )
    setup = await new_user(rt, app_id)
    pending = (await challenge(fa, rt, setup, applicationId=app_id)).success_response
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    body = {
        "method": "authenticator",
        "secret": secret,
        "code": totp.current_code(secret, clock.now / 1000),
        "twoFactorId": pending["twoFactorId"],
    }
    await fa.ok("enable_two_factor", setup, body)
    before = await snapshot(redis)

    await rebuild(redis, settings.partitions, clock, **spilling)
    after = await snapshot(redis)

    revoked = [spare, wrong["twoFactorId"]]
    tag = rt.user_tag(locked)
    gone = [keys.two_factor_pending(tag, totp.digest(i)) for i in revoked]
    assert 0 == await redis.exists(*gone)
    assert without_ttl(before) == without_ttl(after)
    assert ttl_drift(before, after) < 2000
