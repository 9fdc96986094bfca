from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from loginsvc.config import CHEAPEST, OWASP_MINIMUM, HashProfile
from loginsvc.errors import Overloaded
from loginsvc.passwords import HASH_THREAD_NICENESS, PasswordHasher

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.

PASSWORD = "correct horse battery staple"


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    hasher = PasswordHasher(CHEAPEST, threads=2, max_wait_ms=2000)
    yield hasher
    hasher.close()


async def test_verify_accepts_the_password_that_was_hashed(
    hasher: PasswordHasher,
) -> None:
    """
    A hash verifies against its own password.
    """
    encoded = await hasher.hash(PASSWORD)

    assert True is await hasher.verify(encoded, PASSWORD)


async def test_verify_refuses_another_password(hasher: PasswordHasher) -> None:
    """
    A hash does not verify against a different password.
    """
    encoded = await hasher.hash(PASSWORD)

    assert False is await hasher.verify(encoded, PASSWORD + "!")


async def test_hash_is_argon2id_with_the_profile_parameters(
    hasher: PasswordHasher,
) -> None:
    """
    The encoded hash names argon2id and the profile's m, t and p.
    """
    encoded = await hasher.hash(PASSWORD)

    assert "$argon2id$v=19$m=8,t=1,p=1$" == encoded[:27]


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "not-a-hash",
        "$argon2id$v=19$m=8,t=1,p=1$garbage",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=8,t=1,p=1$é",
        "$2b$12$abcdefghijklmnopqrstuuGZ3hNq0GhP6NG5k/Cu4ziVnTjwf2L2e",
    ],
)
async def test_verify_of_an_invalid_hash_is_false(
    hasher: PasswordHasher, encoded: str
) -> None:
    """
    Garbage, truncated, non-ASCII and foreign hashes verify as False, not raise.
    """
    assert False is await hasher.verify(encoded, PASSWORD)


async def test_a_password_with_a_lone_surrogate_hashes_and_verifies(
    hasher: PasswordHasher,
) -> None:
    """
    A lone surrogate from JSON is hashed rather than raising an error quoting it.
    """
    password = "pa\ud800ss"

    encoded = await hasher.hash(password)

    assert True is await hasher.verify(encoded, password)


async def test_verify_dummy_completes_for_any_password(
    hasher: PasswordHasher,
) -> None:
    """
    The dummy verify for unknown users finishes quietly, whatever it is given.
    """
    await hasher.verify_dummy(PASSWORD)
    await hasher.verify_dummy("pa\ud800ss")

    assert 0 == hasher.pending


async def test_needs_rehash_is_true_for_a_hash_made_with_other_parameters(
    hasher: PasswordHasher,
) -> None:
    """
    A hash from a different profile needs rehashing; one from ours does not.
    """
    other = PasswordHasher(HashProfile(16, 1, 1), threads=1, max_wait_ms=2000)
    try:
        foreign = await other.hash(PASSWORD)
    finally:
        other.close()
    own = await hasher.hash(PASSWORD)

    assert (True, False) == (hasher.needs_rehash(foreign), hasher.needs_rehash(own))


def test_needs_rehash_is_true_for_an_invalid_hash(hasher: PasswordHasher) -> None:
    """
    A hash that cannot be parsed is reported as needing replacement.
    """
    assert True is hasher.needs_rehash("not-a-hash")


async def test_verify_runs_off_the_event_loop() -> None:
    """
    The loop keeps ticking while an OWASP-strength verify runs.
    """
    hasher = PasswordHasher(OWASP_MINIMUM, threads=1, max_wait_ms=10_000)
    encoded = await hasher.hash(PASSWORD)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        verified = await hasher.verify(encoded, PASSWORD)
    finally:
        done = True
        await task
        hasher.close()

    assert True is verified
    assert ticks > 10


async def test_overloaded_is_raised_when_the_estimated_wait_exceeds_the_limit() -> None:
    """
    With one thread busy and a 1 ms limit, the extra verifies are refused at once.
    """
    hasher = PasswordHasher(OWASP_MINIMUM, threads=1, max_wait_ms=1)
    encoded = await hasher.hash(PASSWORD)
    try:
        results = await asyncio.gather(
            *(hasher.verify(encoded, PASSWORD) for _ in range(4)),
            return_exceptions=True,
        )
    finally:
        hasher.close()

    assert True is results[0]
    assert [Overloaded] * 3 == [type(r) for r in results[1:]]
    assert PASSWORD not in str(results[1])
    assert 0 == hasher.pending


async def test_nothing_is_refused_when_the_limit_is_generous() -> None:
    """
    The same burst all verifies when the limit is far above the queue wait.
    """
    hasher = PasswordHasher(OWASP_MINIMUM, threads=1, max_wait_ms=60_000)
    encoded = await hasher.hash(PASSWORD)
    try:
        results = await asyncio.gather(
            *(hasher.verify(encoded, PASSWORD) for _ in range(4))
        )
    finally:
        hasher.close()

    assert [True] * 4 == results
    assert 0 == hasher.pending


async def test_an_idle_worker_admits_a_job_even_with_a_tiny_limit() -> None:
    """
    The wait counts only jobs that must finish first: a free thread means none.
    """
    hasher = PasswordHasher(OWASP_MINIMUM, threads=2, max_wait_ms=1)
    encoded = await hasher.hash(PASSWORD)
    try:
        results = await asyncio.gather(
            *(hasher.verify(encoded, PASSWORD) for _ in range(3)),
            return_exceptions=True,
        )
    finally:
        hasher.close()

    assert [True, True, Overloaded] == [
        r if isinstance(r, bool) else type(r) for r in results
    ]


async def test_a_cancelled_caller_is_uncounted_once_its_job_ends(
    hasher: PasswordHasher,
) -> None:
    """
    The pending count returns to zero after a caller is cancelled mid-verify.
    """
    encoded = await hasher.hash(PASSWORD)
    task = asyncio.create_task(hasher.verify(encoded, PASSWORD))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    for _ in range(100):
        if hasher.pending == 0:
            break
        await asyncio.sleep(0.01)

    assert 0 == hasher.pending


async def test_the_average_job_duration_is_seeded_and_positive(
    hasher: PasswordHasher,
) -> None:
    """
    The moving average starts from the dummy hash's timing and stays positive.
    """
    await hasher.verify_dummy(PASSWORD)

    assert hasher.average_ms > 0


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
async def test_hashing_threads_run_nicer_than_the_event_loop(
    hasher: PasswordHasher,
) -> None:
    """
    With every core hashing, the loop still wins the CPU (issue #6).
    """

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_niceness = niceness()
    thread_niceness = await hasher._run(niceness)

    assert loop_niceness + HASH_THREAD_NICENESS == thread_niceness
