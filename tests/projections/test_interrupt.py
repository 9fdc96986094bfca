"""
The event-log commands as processes: interrupted or cut short, they leave
nothing half-done and say so in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from events.codec import Envelope, encode
from events.login import LoggedIn, LoginAttempted
from events.user import UserCreated
from loginsvc import keys
from projections import rebuild as rebuild_module
from projections.rebuild import rebuild, rebuild_lock
from projections.replay import merged
from projections.verify import verify

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4


def fill(url: str, users: int, per_user: int) -> None:
    """
    Append login-heavy users straight to the streams.
    """
    sync = SyncRedis.from_url(url)
    sync.flushall()
    sync.set(keys.partition_count(), PARTITIONS)
    pipe = sync.pipeline(transaction=False)
    # Recent instants, so the hourly login counters are written (and rebuilt).
    start = wall_ms() - 3_600_000
    for n in range(users):
        user_id = str(uuid.uuid4())
        tag = keys.tag(keys.partition_of(user_id, PARTITIONS))
        events: list[object] = [UserCreated({"id": user_id, "email": f"u{n}@x.io"})]
        for i in range(per_user):
            events.append(LoginAttempted(f"u{n}@x.io", "succeeded", user_id))
            events.append(LoggedIn(user_id, "PASSWORD", None, False, None, None))
            del i
        for seq, event in enumerate(events, start=1):
            raw = encode(Envelope(event, f"user:{user_id}", seq, start + seq))
            pipe.xadd(keys.event_stream(tag), {"e": raw})
        pipe.execute()
    sync.close()


def loginsvc(url: str, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LOGINSVC_REDIS_URL": url}
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "loginsvc", *args], env=env, cwd=ROOT, **popen
    )


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


async def differences(url: str) -> list[str]:
    redis = Redis.from_url(url)
    try:
        report = await verify(redis, PARTITIONS, wall_ms)
        return [str(d) for d in report.differences]
    finally:
        await redis.aclose()


async def rebuilt(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        await rebuild(redis, PARTITIONS, wall_ms)
    finally:
        await redis.aclose()


def read_first_line(url: str, command: str) -> tuple[bytes, int, bytes]:
    """
    Run ``command`` like ``loginsvc <command> | head -1``: its first line of
    output, its status and its stderr.
    """
    proc = loginsvc(url, command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    status = proc.wait(timeout=30)
    with proc.stderr:
        return first, status, proc.stderr.read()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["--workers", "1"]], ids=["pool", "inline"])
def test_a_rebuild_interrupted_by_sigint_leaves_no_difference(
    redis_server: str, workers: list[str]
) -> None:
    """
    SIGINT mid-rebuild exits non-zero in one line; verify then finds nothing.
    With one worker the fold runs in the command's own process.
    """
    # Enough events that the rebuild is still folding when the signal lands.
    fill(redis_server, 900, 60)
    asyncio.run(rebuilt(redis_server))
    sync = SyncRedis.from_url(redis_server)

    proc = loginsvc(redis_server, "rebuild", *workers, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not sync.exists(keys.rebuild_lock()) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)

    assert 0 != proc.returncode
    assert 1 == len(err.decode().strip().splitlines())
    assert [] == asyncio.run(differences(redis_server))
    assert 0 == sync.exists(keys.rebuild_lock())


_BUSY = """
local start = redis.call('TIME')
repeat
  local now = redis.call('TIME')
until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > tonumber(ARGV[1])
return 1
"""


@pytest.mark.redis
@pytest.mark.slow
def test_an_event_log_command_waits_out_a_long_server_call(redis_server: str) -> None:
    """
    A call that holds Redis longer than the service's 2 s reply timeout (a big
    partition's swap) does not fail the command.
    """
    fill(redis_server, 5, 2)
    sync = SyncRedis.from_url(redis_server)
    busy = threading.Thread(target=sync.eval, args=(_BUSY, 0, 3_000_000))
    busy.start()
    time.sleep(0.1)
    proc = loginsvc(redis_server, "rebuild", stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=30)
    busy.join()
    sync.close()

    assert 0 == proc.returncode, err.decode()
    assert [] == asyncio.run(differences(redis_server))


@pytest.mark.redis
def test_replay_into_a_reader_that_stops_early_exits_quietly(
    redis_server: str,
) -> None:
    """
    ``replay | head -1`` ends with status 0 and nothing on stderr.
    """
    fill(redis_server, 50, 30)

    first, status, err = read_first_line(redis_server, "replay")

    assert b'"id"' in first
    assert (0, b"") == (status, err)


@pytest.mark.redis
def test_verify_cut_short_by_its_reader_still_fails(redis_server: str) -> None:
    """
    ``verify | head -1`` over many differences: quiet, but not status 0.
    """
    fill(redis_server, 5, 2)
    sync = SyncRedis.from_url(redis_server)
    pipe = sync.pipeline(transaction=False)
    for n in range(3000):  # far more output than a pipe buffers
        pipe.set(f"{keys.PREFIX}{keys.tag(0)}:planted:{n:05d}", "x")
    pipe.execute()

    first, status, err = read_first_line(redis_server, "verify")

    assert first.startswith(keys.PREFIX.encode())
    assert (1, b"") == (status, err)


@pytest.mark.redis
@pytest.mark.parametrize("command", ["rebuild", "verify", "replay"])
async def test_a_cancel_landing_mid_fold_stops_the_run(
    redis_server: str, command: str
) -> None:
    """
    A cancel requested while the fold runs (as Ctrl-C does through
    ``asyncio.run``) stops the run at its next read, although redis-py
    swallows it inside the command it reaches first.
    """
    fill(redis_server, 40, 30)
    redis = Redis.from_url(redis_server)
    pages = 0

    def cancel_at_the_second_page(_tag: str, _count: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()

    async def run() -> None:
        if command == "rebuild":
            await rebuild(
                redis, PARTITIONS, wall_ms, cancel_at_the_second_page, 50, workers=1
            )
        elif command == "verify":
            await verify(redis, PARTITIONS, wall_ms, cancel_at_the_second_page)
        else:
            async for run in merged(redis, keys.all_tags(PARTITIONS), batch=50):
                cancel_at_the_second_page("", len(run))

    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(run())
        assert 2 == pages
        assert 0 == await redis.exists(keys.rebuild_lock())
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_a_cancel_swallowed_before_the_fold_still_stops_the_rebuild(
    redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    The staging sweep is where Ctrl-C lands when it comes early; redis-py may
    swallow it there, and the rebuild must stop before it folds anything.
    """
    fill(redis_server, 10, 3)
    redis = Redis.from_url(redis_server)
    folded: list[str] = []

    async def swallowing_sweep(_redis: Redis, _pattern: str) -> int:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # as redis-py 8 does
            await asyncio.sleep(0)
        return 0

    monkeypatch.setattr(rebuild_module, "delete_matching", swallowing_sweep)
    monkeypatch.setattr(rebuild_module, "_rebuild_tag", lambda *a: folded.append(a))
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(rebuild(redis, PARTITIONS, wall_ms))
        assert [] == folded
        assert 0 == await redis.exists(keys.rebuild_lock())
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_an_interrupt_after_the_lock_was_set_gives_it_back(
    redis_server: str,
) -> None:
    """
    A cancel can end the SET that takes the lock after Redis ran it.
    """
    redis = Redis.from_url(redis_server)

    class CancelledAfterSet:
        async def set(self, *args: object, **kwargs: object) -> None:
            await redis.set(*args, **kwargs)  # type: ignore[arg-type]
            raise asyncio.CancelledError

        def __getattr__(self, name: str) -> object:
            return getattr(redis, name)

    try:
        with pytest.raises(asyncio.CancelledError):
            async with rebuild_lock(CancelledAfterSet()):  # type: ignore[arg-type]
                pass
        assert 0 == await redis.exists(keys.rebuild_lock())
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_an_interrupt_while_the_lock_is_given_back_still_gives_it_back(
    redis_server: str,
) -> None:
    """
    Ctrl-C can land on the release itself; the lock is released all the same.
    """
    redis = Redis.from_url(redis_server)

    async def body() -> None:
        async with rebuild_lock(redis):
            pass

    class CancelOnRelease:
        async def eval(self, script: str, *args: object) -> object:
            if "DEL" in script:  # the release, as the body ends
                outer.cancel()
            return await redis.eval(script, *args)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return getattr(redis, name)

    async def cancelled_body() -> None:
        async with rebuild_lock(CancelOnRelease()):  # type: ignore[arg-type]
            pass

    try:
        outer = asyncio.create_task(cancelled_body())
        with pytest.raises(asyncio.CancelledError):
            await outer
        assert 0 == await redis.exists(keys.rebuild_lock())
        await body()  # and it can be taken again at once
    finally:
        await redis.aclose()
