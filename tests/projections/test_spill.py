"""
``projections.spill``: documents a rebuild's fold packs and keys it forgets
come back exactly as it held them, and nothing it deleted meanwhile comes back.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from events.codec import Envelope
from events.store import Op
from events.user import UserCreated
from loginsvc import keys
from projections import spill as spill_module
from projections.fold import TagFold, fold_page
from projections.model import Keyspace
from projections.spill import DOC_ITEMS, Spill

TAG = keys.tag(3)
NOW = 1_700_000_000_000
STAGED = keys.staged_keys(TAG)


def held(space: Keyspace) -> dict[str, tuple[str, object]]:
    return {k: (kind, v) for k, (kind, v) in space.values.items()}


async def test_a_forgotten_key_of_every_kind_comes_back_with_its_ttl(
    redis: Redis,
) -> None:
    fold, space = TagFold(TAG, NOW), Keyspace()
    writes = [
        Op("SET", keys.two_factor_pending(TAG, "d1"), (b"\x00raw\xff", "PX", 60_000)),
        Op("HSET", keys.login_counts(TAG), ("app", 3, "-", 1)),
        Op("LPUSH", keys.recent_logins(TAG), (b"one", b"two", b"two")),
        Op("SADD", keys.aggregate(TAG, "set", "s"), (b"a", b"b")),
        Op("ZADD", keys.aggregate(TAG, "zset", "z"), (1.5, b"m", 1e300, b"n")),
    ]
    for op in writes:
        space.run(op, NOW)
    before, expires = held(space), dict(space.expires)
    spill = Spill(redis, fold, space, STAGED, hold=0)

    await spill.trim(NOW)
    assert ({}, 5) == (space.values, spill.spilled)
    await spill.reload([], writes, NOW + 10)

    assert before == held(space)
    [(key, at)] = expires.items()
    assert 0 <= at + 10 - space.expires[key] < 1000


async def test_a_key_deleted_after_it_was_staged_is_not_read_back(
    redis: Redis,
) -> None:
    """
    Until the next trim stages the deletion, the staged twin is out of date.
    """
    fold, space = TagFold(TAG, NOW), Keyspace()
    counts = keys.login_counts(TAG)
    space.run(Op("HSET", counts, ("app", 3)), NOW)
    spill = Spill(redis, fold, space, STAGED, hold=0)
    await spill.trim(NOW)

    for op in (Op("DEL", counts, ()), Op("HINCRBY", counts, ("app", 1))):
        await spill.reload([], [op], NOW)
        space.run(op, NOW)

    assert ("hash", {b"app": b"1"}) == space.values[counts]


def created(user_id: str, email: str) -> Envelope:
    doc = {"id": user_id, "email": email, "username": user_id}
    return Envelope(UserCreated(doc), f"user:{user_id}", 1, NOW, "1-0")


async def test_a_packed_document_comes_back_from_memory(redis: Redis) -> None:
    """
    Over the budget, documents are packed first; that may be all it takes.
    """
    fold, space = TagFold(TAG, NOW), Keyspace()
    page = [created("u1", "Ada@Example.com")]
    fold_page(fold, space, page, NOW, [])
    key = keys.user(TAG, "u1")
    spill = Spill(redis, fold, space, STAGED, hold=DOC_ITEMS - 1)

    await spill.trim(NOW)
    assert ({}, [key]) == (fold.docs, list(space.values))
    await spill.reload(page, [], NOW)

    assert (1, page[0].event.user) == fold.docs[key]
    assert (0, []) == (spill.spilled, await redis.keys("*"))


async def test_a_forgotten_document_comes_back_from_staging(redis: Redis) -> None:
    fold, space = TagFold(TAG, NOW), Keyspace()
    page = [created("u1", "ada@example.com"), created("u2", "bo@example.com")]
    fold_page(fold, space, page, NOW, [])
    spill = Spill(redis, fold, space, STAGED, hold=0)

    await spill.trim(NOW)
    assert ({}, 2) == (space.values, spill.spilled)
    await spill.reload(page[1:], [], NOW)

    assert {keys.user(TAG, "u2"): (1, page[1].event.user)} == fold.docs


async def test_a_counter_hash_only_added_to_is_never_read_back(redis: Redis) -> None:
    """
    A slice that only adds to a forgotten counter hash adds to its twin: the
    twin ends with the sums and the TTL, and the fold never holds it whole.
    """
    fold, space = TagFold(TAG, NOW), Keyspace()
    day = keys.login_day(TAG, 19_000)
    space.run(Op("HINCRBY", day, ("7", 2)), NOW)
    spill = Spill(redis, fold, space, STAGED, hold=0)
    await spill.trim(NOW)
    adding = [Op("HINCRBY", day, ("7", 3)), Op("PEXPIRE", day, (60_000,))]

    await spill.reload([], adding, NOW)
    assert day not in space.values
    for op in adding:
        space.run(op, NOW)
    assert ("hash", {b"7": b"3"}) == space.values[day]
    await spill.trim(NOW)

    assert {b"7": b"5"} == await redis.hgetall(keys.staging(day))
    assert 0 < await redis.pttl(keys.staging(day)) <= 60_000
    assert {day.encode()} == await redis.smembers(STAGED)
    await spill.reload([], [Op("HSET", day, ("8", 1))], NOW)
    assert ("hash", {b"7": b"5"}) == space.values[day]


async def test_big_keys_are_staged_in_parts_and_keep_their_order(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill_module, "STAGE_ARGS", 700)
    fold, space = TagFold(TAG, NOW), Keyspace()
    recent, day = keys.recent_logins(TAG), keys.login_day(TAG, 19_000)
    space.run(Op("LPUSH", recent, tuple(b"%d" % n for n in range(2_500))), NOW)
    space.run(Op("HSET", day, tuple(x for n in range(2_500) for x in (n, n))), NOW)
    before = held(space)
    spill = Spill(redis, fold, space, STAGED, hold=0)

    await spill.trim(NOW)
    await spill.reload([], [Op("LTRIM", recent, (0, -1)), Op("HDEL", day, ("x",))], NOW)

    assert before == held(space)
    assert 2_500 == await redis.llen(keys.staging(recent))
