"""
The denominators: H2, the service's own hasher flat out on every core, and
C2, a bare aiohttp JSON handler on every core under the same load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from bench.service import ROOT
from loginsvc.config import HashProfile
from loginsvc.passwords import PasswordHasher


async def _verifies(
    hasher: PasswordHasher, encoded: str, seconds: float, threads: int
) -> int:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await hasher.verify(encoded, "bench-password-0123")
            done += 1

    await asyncio.gather(*(worker() for _ in range(threads * 2)))
    return done


async def hash_rate(
    profile: HashProfile, threads: int, seconds: float
) -> dict[str, float]:
    """
    Verifies per second of ``PasswordHasher`` on ``threads``, and one verify's ms.
    """
    hasher = PasswordHasher(profile, threads, max_wait_ms=600_000)
    try:
        encoded = await hasher.hash("bench-password-0123")
        started = time.perf_counter()
        await hasher.verify(encoded, "bench-password-0123")
        single_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        done = await _verifies(hasher, encoded, seconds, threads)
        return {
            "per_s": done / (time.perf_counter() - started),
            "single_ms": single_ms,
        }
    finally:
        hasher.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bare_server(workers: int) -> Iterator[str]:
    """
    The bare handler served by ``workers`` processes; its URL.
    """
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bare", str(port), str(workers)], cwd=ROOT
    )
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the bare server did not start")
