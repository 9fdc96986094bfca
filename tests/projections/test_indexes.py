"""
The index keys a rebuild derives from user documents: loginIds and applied
user actions, restored, verified, and swept without losing a reservation.
"""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from loginsvc import keys
from loginsvc.config import Settings
from projections.indexes import drop_stale
from projections.rebuild import rebuild
from projections.verify import verify
from tests.conftest import Clock
from tests.projections.helpers import PASSWORD, busy_store, post


async def applied_action(
    client: TestClient, admin: dict[str, str], user_id: str, clock: Clock
) -> str:
    lock = {"name": "Lock", "preventLogin": True, "temporal": True}
    definition = {"userAction": lock}
    made = await post(client, "/api/user-action", definition, admin)
    action = {
        "actioneeUserId": user_id,
        "userActionId": made["userAction"]["id"],
        "expiry": clock.now + 60_000,
    }
    body = {"broadcast": False, "action": action}
    applied = await post(client, "/api/user/action", body, admin)
    return str(applied["action"]["id"])


async def test_rebuild_restores_user_action_index_keys_and_drops_stale_ones(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    A lost action index key comes back; one no document holds is deleted.
    """
    ids = await busy_store(client, admin)
    action_id = await applied_action(client, admin, ids["ada"], clock)
    await redis.delete(keys.user_action_index(action_id))
    await redis.set(keys.user_action_index("gone"), ids["ada"])

    await rebuild(redis, settings.partitions, clock, index_grace_s=0)

    assert ids["ada"].encode() == await redis.get(keys.user_action_index(action_id))
    assert 0 == await redis.exists(keys.user_action_index("gone"))


async def test_verify_reports_missing_and_stray_user_action_index_keys(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    Verify compares action index keys as it does loginIds.
    """
    ids = await busy_store(client, admin)
    action_id = await applied_action(client, admin, ids["ada"], clock)
    await redis.delete(keys.user_action_index(action_id))
    await redis.set(keys.user_action_index("gone"), ids["ada"])

    report = await verify(redis, settings.partitions, clock)

    expected = {keys.user_action_index(action_id), keys.user_action_index("gone")}
    assert expected == {d.key for d in report.differences}


async def test_a_reservation_committed_during_the_sweep_is_kept(
    client: TestClient, admin: dict[str, str], redis: Redis, settings: Settings
) -> None:
    """
    A loginId reserved before its user is committed survives the stray sweep.
    """
    user_id = str(uuid.uuid4())
    reserved = keys.login_id_index("late@example.com")
    await redis.set(reserved, user_id)

    async def commit_soon() -> None:
        await asyncio.sleep(0.05)
        body = {"user": {"email": "late@example.com", "password": PASSWORD}}
        await post(client, f"/api/user/{user_id}", body, admin)

    deleted, _ = await asyncio.gather(
        drop_stale(redis, settings.partitions, grace_s=0.5), commit_soon()
    )

    assert 0 == deleted
    assert user_id.encode() == await redis.get(reserved)


async def test_a_stray_deleted_during_the_sweep_is_skipped(
    redis: Redis, settings: Settings
) -> None:
    """
    A stray index key someone else deletes during the grace period is simply
    gone: the sweep goes on (OBJECT IDLETIME of a missing key is nil).
    """
    ghost = keys.login_id_index("ghost@example.com")
    other = keys.login_id_index("other-ghost@example.com")
    await redis.set(ghost, str(uuid.uuid4()))
    await redis.set(other, str(uuid.uuid4()))

    async def delete_soon() -> None:
        await asyncio.sleep(0.05)
        await redis.delete(ghost)

    deleted, _ = await asyncio.gather(
        drop_stale(redis, settings.partitions, grace_s=0.5), delete_soon()
    )

    assert 1 == deleted
    assert 0 == await redis.exists(ghost, other)


async def test_an_index_key_naming_another_user_is_not_overwritten(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    Restoring index entries never takes a value another user now holds.
    """
    ids = await busy_store(client, admin)
    await redis.set(keys.login_id_index("ada"), ids["bob"])

    await rebuild(redis, settings.partitions, clock, index_grace_s=0)

    assert ids["bob"].encode() == await redis.get(keys.login_id_index("ada"))
