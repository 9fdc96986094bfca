"""
``replay``: every partition merged into one order, filtered, without secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar

import fakeredis
import msgpack
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from events import codec, login, system, user
from events.codec import Envelope
from events.store import ANY_VERSION, EventStore
from loginsvc import cli_eventlog, keys
from projections import replay as replay_module
from projections.replay import (
    JsonLines,
    ReplayFilter,
    as_json,
    as_row,
    merged,
    parse_time,
    record,
    replay,
)


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


def test_an_api_key_aggregate_is_printed_without_its_digest() -> None:
    """
    An API key's aggregate is named by the key's SHA-256: JSON (both paths)
    and table rows show the kind and the key id, never the digest.
    """
    digest = hashlib.sha256(b"an api key").hexdigest()
    created = system.ApiKeyCreated("key-1", digest, "ci")
    envelope = Envelope(created, f"apikey:{digest}", 1, 0, "1-0")
    raw = codec.encode(envelope)

    shown = [
        as_json(envelope),
        as_row(envelope),
        JsonLines().line("1-0", raw).decode(),
    ]

    assert [] == [text for text in shown if digest in text]
    assert all("apikey:<digest>" in text and "key-1" in text for text in shown)


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


@pytest.mark.redis
@pytest.mark.parametrize(
    ("recorded", "argv", "says"),
    [
        (b"16", ["rebuild", "--partitions", "8"], "has 16 partitions"),
        (b"16", ["verify", "--partitions", "8"], "has 16 partitions"),
        (b"abc", ["verify"], "not a partition count"),
        (b"0", ["replay"], "not a partition count"),
        (None, ["verify"], "pass --partitions"),
    ],
)
def test_cli_refuses_a_partition_count_the_store_was_not_created_with(
    redis_server: str,
    capsys: pytest.CaptureFixture[str],
    recorded: bytes | None,
    argv: list[str],
    says: str,
) -> None:
    """
    Folding another count would miss users and sweep their loginId keys: one
    line, status 1, and nothing written.
    """
    sync = SyncRedis.from_url(redis_server)
    sync.flushall()
    if recorded is not None:
        sync.set(keys.partition_count(), recorded)
    sync.set(keys.login_id_index("ada@example.com"), "some-user")

    status = cli(argv).handler(cli(argv), {"LOGINSVC_REDIS_URL": redis_server})
    err = capsys.readouterr().err

    assert (1, 1) == (status, len(err.splitlines()))
    assert says in err
    assert b"some-user" == sync.get(keys.login_id_index("ada@example.com"))


def test_cli_rejects_a_partition_count_below_one() -> None:
    with pytest.raises(SystemExit):
        cli(["verify", "--partitions", "-1"])


@dataclass(frozen=True, slots=True)
class KeysRotated:
    """
    A test-only event with secrets at every depth; v1 called ``label`` ``name``.
    """

    TYPE: ClassVar[str] = "TestOnlyKeysRotated"
    VERSION: ClassVar[int] = 2
    label: str
    client_secret: str
    detail: dict[str, Any]
    blobs: list[Any]


def upcast_keys_rotated_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"label": data.pop("name"), **data}


codec.register([KeysRotated])
codec.register_upcaster(KeysRotated.TYPE, 1, upcast_keys_rotated_v1_to_v2)

NESTED = {
    "password": "hunter2",
    "keys": [{"privateKey": "pk-1", "kid": "k1", "der": b"\x00\x01\x02"}],
    "inner": {"apiKeyHash": "h-1", "tokenDigest": "d-1", "count": 3, "ok": None},
}
SECRETS = ("hunter2", "pk-1", "h-1", "d-1", "cs-1", "$argon2id$")


def stored(type_: str, version: int, data: dict[str, Any]) -> bytes:
    envelope = {"t": type_, "sv": version, "a": "key:1", "n": 2, "at": 1_234, "d": data}
    packed: bytes = msgpack.packb(envelope, use_bin_type=True)
    return packed


FIELDS = {"client_secret": "cs-1", "detail": NESTED, "blobs": [b"abcd", [b"x"]]}


def current_records() -> list[bytes]:
    """
    Records stored in their type's current version, with today's fields.
    """
    user_doc = {"id": "u", "password": "$argon2id$x", "data": {"secret": "cs-1"}}
    return [
        stored(KeysRotated.TYPE, 2, {"label": "now", **FIELDS}),
        stored("UserCreated", 1, {"user": user_doc}),
        codec.encode(Envelope(attempt("ada", "succeeded", "u-ada"), "attempt:a", 1, 5)),
    ]


def test_json_lines_render_each_record_as_its_decoded_event_would_be() -> None:
    """
    The fast path and the upcasting path print what ``as_json`` prints.
    """
    raws = [*current_records(), stored(KeysRotated.TYPE, 1, {"name": "v1", **FIELDS})]

    expected = [as_json(codec.decode(raw, f"{n}-0")) for n, raw in enumerate(raws)]
    actual = [JsonLines().line(f"{n}-0", raw).decode() for n, raw in enumerate(raws)]

    assert expected == actual


def test_json_lines_leave_out_secrets_nested_anywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    Secret fields go at any depth and bytes show their length, without decoding.
    """
    # Records in the current version never go through decode and the upcasters.
    monkeypatch.setattr(replay_module, "decode", None)
    raws = current_records()
    lines = JsonLines().lines([(f"{n}-0", raw) for n, raw in enumerate(raws)])

    shown = json.loads(lines.splitlines()[0])["data"]

    assert [] == [secret for secret in SECRETS if secret.encode() in lines]
    assert {"label", "detail", "blobs"} == set(shown)
    assert {"kid": "k1", "der": "<3 bytes>"} == shown["detail"]["keys"][0]
    assert ["<4 bytes>", ["<1 bytes>"]] == shown["blobs"]


async def appended(redis: Redis, per_tag: dict[str, list[str]]) -> None:
    """
    One event per entry id, its aggregate naming the tag it was appended to.
    """
    for tag, ids in per_tag.items():
        raw = codec.encode(Envelope(attempt("ada", "succeeded"), tag, 0, 1))
        for entry_id in ids:
            await redis.xadd(keys.event_stream(tag), {"e": raw}, id=entry_id)


async def test_merge_orders_by_numeric_entry_id_then_by_tag() -> None:
    """
    ``9-0`` comes before ``10-0`` and ``5-9`` before ``5-10``; ties go by tag.
    """
    redis = fakeredis.FakeAsyncRedis()
    sys_, p0, p1 = keys.all_tags(2)
    await appended(
        redis,
        {
            p1: ["5-10", "10-0", "10-18446744073709551615"],
            p0: ["5-9", "5-10", "18446744073709551615-0"],
            sys_: ["9-0", "10-0"],
        },
    )

    merge = merged(redis, [sys_, p0, p1], batch=1)
    order = [(i, codec.decode(raw).aggregate) async for run in merge for i, raw in run]

    assert [
        ("5-9", p0),
        ("5-10", p0),
        ("5-10", p1),
        ("9-0", sys_),
        ("10-0", sys_),
        ("10-0", p1),
        ("10-18446744073709551615", p1),
        ("18446744073709551615-0", p0),
    ] == order


async def test_a_merge_closed_early_leaves_no_page_requests_running() -> None:
    """
    The pages fetched ahead are cancelled when the reader stops (``| head``).
    """
    redis = fakeredis.FakeAsyncRedis()
    tags = keys.all_tags(2)
    await appended(redis, {tag: [f"{n}-0" for n in range(1, 6)] for tag in tags})

    async with aclosing(merged(redis, tags, batch=2)) as runs:
        first = await anext(runs)
    running = asyncio.all_tasks() - {asyncio.current_task()}

    assert (["1-0"] * 3, set()) == ([i for i, _raw in first[:3]], running)
