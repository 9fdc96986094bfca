"""
``replay``: every partition merged into one order, filtered, without secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import fakeredis
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from events import codec, login, user
from events.codec import Envelope
from events.store import ANY_VERSION, EventStore
from loginsvc import cli_eventlog, keys
from projections.replay import ReplayFilter, parse_time, record, replay


def attempt(login_id: str, outcome: str, user_id: str | None = None) -> object:
    return login.LoginAttempted(
        login_id=login_id, outcome=outcome, user_id=user_id, application_id="app-1"
    )


async def seeded() -> Redis:
    """
    Attempts spread over three partitions, appended in a known order.
    """
    redis = fakeredis.FakeAsyncRedis()
    store = EventStore(redis)
    for n, (tag, event) in enumerate(
        [
            (keys.tag(1), attempt("ada", "succeeded", "u-ada")),
            (keys.tag(0), attempt("bob", "wrongPassword", "u-bob")),
            (keys.SYSTEM_TAG, attempt("cy", "unknownUser")),
            (keys.tag(1), attempt("ada", "wrongPassword", "u-ada")),
        ]
    ):
        envelope = Envelope(event, f"attempt:{n}", 0, 1_000 * (n + 1))
        await store.append(tag, None, ANY_VERSION, [envelope])
        # Entry ids order streams only to the millisecond.
        await asyncio.sleep(0.002)
    return redis


async def replayed(redis: Redis, wanted: ReplayFilter) -> list[str]:
    tags = keys.all_tags(2)
    return [e.event.login_id async for e in replay(redis, tags, wanted)]


async def test_replay_merges_every_partition_in_append_order() -> None:
    """
    Events of different streams come out in the order they were appended.
    """
    redis = await seeded()

    assert ["ada", "bob", "cy", "ada"] == await replayed(redis, ReplayFilter())


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (ReplayFilter(user_id="u-ada"), ["ada", "ada"]),
        (ReplayFilter(login_id="BOB"), ["bob"]),
        (ReplayFilter(outcome="wrongPassword"), ["bob", "ada"]),
        (ReplayFilter(since=2_000, until=3_000), ["bob", "cy"]),
        (ReplayFilter(types=frozenset({"LoggedIn"})), []),
        (ReplayFilter(application_id="app-2"), []),
    ],
)
async def test_replay_filters_events(wanted: ReplayFilter, expected: list[str]) -> None:
    """
    Each criterion narrows the merged events.
    """
    redis = await seeded()

    assert expected == await replayed(redis, wanted)


def test_replayed_records_carry_no_password_hash_or_digest() -> None:
    """
    Fields named like a password, hash, digest or key are dropped, nested too.
    """
    created = user.UserCreated({"id": "u", "email": "a@b.c", "password": "$argon2id$x"})
    rehashed = user.PasswordRehashed("$argon2id$y")

    shown = json.dumps(
        [record(Envelope(e, "user:u", 1, 0)) for e in (created, rehashed)]
    )

    assert "argon2" not in shown
    assert {"id": "u", "email": "a@b.c"} == record(Envelope(created, "user:u", 1, 0))[
        "data"
    ]["user"]


def test_times_are_read_as_iso_8601_or_epoch_milliseconds() -> None:
    """
    Unzoned ISO times are UTC; digits are epoch milliseconds.
    """
    assert [86_400_000, 86_400_000, 5] == [
        parse_time("1970-01-02T00:00:00Z"),
        parse_time("1970-01-02T00:00:00"),
        parse_time("5"),
    ]


def cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="loginsvc")
    cli_eventlog.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_without_a_redis_url_fails_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    The event-log commands need LOGINSVC_REDIS_URL and say so.
    """
    args = cli(["verify"])

    status = args.handler(args, {})

    assert (1, 1) == (status, len(capsys.readouterr().err.splitlines()))


@pytest.mark.redis
def test_cli_replays_verifies_and_rebuilds_a_real_server(
    redis_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    On a real redis-server: replay prints JSON lines, verify and rebuild pass.
    """
    sync = SyncRedis.from_url(redis_server)
    sync.flushall()
    sync.set(keys.partition_count(), 2)
    raw = codec.encode(Envelope(attempt("ada", "unknownUser"), "login:ada", 0, 5))
    sync.xadd(keys.event_stream(keys.tag(1)), {"e": raw})
    env = {"LOGINSVC_REDIS_URL": redis_server}

    statuses = [
        cli([c]).handler(cli([c]), env) for c in ("replay", "verify", "rebuild")
    ]
    lines = capsys.readouterr().out.splitlines()

    assert [0, 0, 0] == statuses
    assert "unknownUser" == json.loads(lines[0])["data"]["outcome"]
