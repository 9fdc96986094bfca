"""
The event store's contract, on fakeredis and on a real redis-server.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from events.codec import Envelope, decode, encode
from events.login import LoginAttempted
from events.store import ANY_VERSION, CrossSlotWrite, EventStore, Op
from loginsvc import keys
from loginsvc.errors import ConcurrencyConflict

TAG = keys.tag(3)
AGG = keys.user(TAG, "u1")


def attempt(outcome: str = "succeeded") -> LoginAttempted:
    return LoginAttempted(login_id="bob@example.com", outcome=outcome, user_id="u1")


def envelopes(version: int, count: int = 1) -> list[Envelope]:
    return [
        Envelope(attempt(), "user:u1", version + n, 1000) for n in range(1, count + 1)
    ]


def test_an_envelope_survives_the_msgpack_round_trip() -> None:
    """
    encode then decode gives back the same event and metadata.
    """
    envelope = Envelope(attempt("wrongPassword"), "user:u1", 3, 1234)

    decoded = decode(encode(envelope), "1-0")

    assert envelope.event == decoded.event
    assert ("user:u1", 3, 1234, "1-0") == (
        decoded.aggregate,
        decoded.sequence,
        decoded.at,
        decoded.entry_id,
    )


async def test_append_writes_events_and_projection_together(redis: Redis) -> None:
    store = EventStore(redis)
    ops = [
        Op("HSET", AGG, ("d", b"doc")),
        Op("HINCRBY", keys.login_counts(TAG), ("a", 1)),
    ]

    await store.append(TAG, AGG, 0, envelopes(0, 2), ops)

    assert [b"2", b"doc"] == await redis.hmget(AGG, ["v", "d"])
    assert b"1" == await redis.hget(keys.login_counts(TAG), "a")
    assert 2 == len(await store.read(TAG))


async def test_append_with_a_stale_version_raises_and_writes_nothing(
    redis: Redis,
) -> None:
    store = EventStore(redis)
    await store.append(TAG, AGG, 0, envelopes(0))

    with pytest.raises(ConcurrencyConflict):
        await store.append(TAG, AGG, 0, envelopes(0), [Op("HSET", AGG, ("d", b"x"))])

    assert None is await redis.hget(AGG, "d")
    assert 1 == len(await store.read(TAG))


async def test_concurrent_appends_at_one_version_let_exactly_one_win(
    redis: Redis,
) -> None:
    store = EventStore(redis)

    results = await asyncio.gather(
        *(store.append(TAG, AGG, 0, envelopes(0)) for _ in range(10)),
        return_exceptions=True,
    )

    assert 1 == sum(1 for r in results if not isinstance(r, Exception))
    assert 1 == len(await store.read(TAG))


async def test_any_version_appends_without_touching_an_aggregate(redis: Redis) -> None:
    store = EventStore(redis)

    await store.append(TAG, None, ANY_VERSION, envelopes(0))
    await store.append(TAG, None, ANY_VERSION, envelopes(0))

    assert 2 == len(await store.read(TAG))


async def test_a_write_outside_the_stream_slot_is_refused(redis: Redis) -> None:
    """
    Every key of one append shares the stream's hash slot, as Redis Cluster needs.
    """
    store = EventStore(redis)
    elsewhere = keys.user(keys.tag(4), "u1")

    with pytest.raises(CrossSlotWrite):
        await store.append(TAG, AGG, 0, envelopes(0), [Op("HSET", elsewhere, ("d", 1))])

    assert [] == await store.read(TAG)


async def test_a_command_outside_the_allow_list_is_refused(redis: Redis) -> None:
    store = EventStore(redis)

    with pytest.raises(Exception, match="DENIED"):
        await store.append(TAG, AGG, 0, envelopes(0), [Op("FLUSHALL", AGG)])

    assert [] == await store.read(TAG)


async def test_read_pages_through_a_stream_in_order(redis: Redis) -> None:
    store = EventStore(redis)
    for version in range(5):
        await store.append(TAG, AGG, version, envelopes(version))

    first = await store.read(TAG, count=2)
    rest = await store.read(TAG, first[-1].entry_id, count=10)

    assert [1, 2, 3, 4, 5] == [e.sequence for e in first + rest]
