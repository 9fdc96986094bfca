"""
argon2id password hashing in a bounded thread pool, never on the event loop.

argon2-cffi releases the GIL while it hashes, so a ``ThreadPoolExecutor`` with one
worker per core gives real parallelism. Work is admitted only while the estimated
queue wait stays under ``hash_max_wait_ms``; beyond that the caller gets
``Overloaded`` (a quick 503) instead of a request that times out in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import argon2
from argon2.exceptions import Argon2Error

from loginsvc.config import HashProfile
from loginsvc.errors import Overloaded

R = TypeVar("R")

#: Weight of the newest job in the moving average of a job's duration.
SMOOTHING = 0.2
#: How much nicer than the event loop the hashing threads run: with every core
#: hashing, the loop still gets the CPU at once for status checks and 503s.
HASH_THREAD_NICENESS = 5


class PasswordHasher:
    """
    Hashes and verifies passwords with argon2id in a thread pool of fixed size.
    """

    def __init__(self, profile: HashProfile, threads: int, max_wait_ms: int) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=profile.time_cost,
            memory_cost=profile.memory_cost,
            parallelism=profile.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._threads = threads
        self._max_wait_s = max_wait_ms / 1000
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="argon2", initializer=_yield_to_the_loop
        )
        self._pending = 0

        # One hash at start gives the dummy for unknown users and seeds the
        # moving average with what a job really costs on this machine.
        started = time.perf_counter()
        self._dummy = self._argon2.hash(_encode(secrets.token_urlsafe(16)))
        self._average_s = time.perf_counter() - started

    @property
    def pending(self) -> int:
        """
        Jobs submitted and not yet finished, queued or running.
        """
        return self._pending

    @property
    def average_ms(self) -> float:
        """
        The moving average of one job's duration, in milliseconds.
        """
        return self._average_s * 1000

    async def hash(self, password: str) -> str:
        """
        Hash a password with the current profile.
        """
        return await self._run(partial(self._argon2.hash, _encode(password)))

    async def verify(self, encoded: str, password: str) -> bool:
        """
        Tell whether the password matches; False for a mismatch or an invalid hash.
        """
        return await self._run(partial(self._check, encoded, _encode(password)))

    async def verify_dummy(self, password: str) -> None:
        """
        Spend the work of one verify, so an unknown user costs what a known one does.
        """
        await self._run(partial(self._check, self._dummy, _encode(password)))

    def needs_rehash(self, encoded: str) -> bool:
        """
        Tell whether the hash was made with parameters other than the current ones.
        """
        try:
            return self._argon2.check_needs_rehash(encoded)
        except ValueError:
            return True

    def close(self) -> None:
        """
        Drop queued jobs and wait for the running ones to finish.
        """
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _check(self, encoded: str, password: bytes) -> bool:
        try:
            return self._argon2.verify(encoded, password)
        except (Argon2Error, ValueError):
            return False

    async def _run(self, job: Callable[[], R]) -> R:
        self._admit()
        loop = asyncio.get_running_loop()
        future = self._pool.submit(_timed, job)
        self._pending += 1

        # Registered before wrap_future's own callback, so the bookkeeping is
        # done before the awaiting task resumes. Counting on completion rather
        # than in a finally keeps a cancelled caller's running job counted.
        future.add_done_callback(partial(_on_loop, loop, self._finished))
        result, _ = await asyncio.wrap_future(future)
        return result

    def _admit(self) -> None:
        # Jobs that must finish before this one starts: none while a worker
        # is idle, then one per job queued ahead plus one running.
        ahead = max(0, self._pending - self._threads + 1)
        wait_s = ahead / self._threads * self._average_s
        if wait_s > self._max_wait_s:
            raise Overloaded(
                f"The estimated password queue wait of {wait_s * 1000:.0f} ms "
                "exceeds 'hash_max_wait_ms'."
            )

    def _finished(self, future: Future[tuple[Any, float]]) -> None:
        self._pending -= 1
        if future.cancelled() or future.exception() is not None:
            return
        elapsed = future.result()[1]
        self._average_s += SMOOTHING * (elapsed - self._average_s)


def _yield_to_the_loop() -> None:
    # On Linux a thread's own id takes a niceness of its own; elsewhere the
    # threads keep the process's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)


def _encode(password: str) -> bytes:
    # JSON can carry a lone surrogate; "surrogatepass" hashes it consistently
    # instead of raising UnicodeEncodeError, whose message would quote it.
    return password.encode("utf-8", "surrogatepass")


def _timed(job: Callable[[], R]) -> tuple[R, float]:
    started = time.perf_counter()
    result = job()
    return result, time.perf_counter() - started


def _on_loop(
    loop: asyncio.AbstractEventLoop,
    callback: Callable[[Future[tuple[Any, float]]], None],
    future: Future[tuple[Any, float]],
) -> None:
    # A job may finish after the loop closed at shutdown: nothing to update.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, future)
