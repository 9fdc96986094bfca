from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import aiohttp
import pytest

from loginsvc.config import Settings, hash_threads_for
from tests.test_cli import (
    DEMO,
    DEMO_KEY,
    ROOT,
    clean_env,
    stop_orphaned_redis,
    wait_for_line,
)

# ruff: noqa: SIM300

APPLICATION_ID = "5c0e1a43-7d2b-4f8e-9a61-2b3c4d5e6f70"


def test_workers_share_the_cores_for_hashing():
    """
    N workers on C cores get C // N hashing threads each, never fewer than one.
    """
    assert [2, 1, 1, 1] == [hash_threads_for(n, cores=2) for n in (1, 2, 3, 8)]
    assert [4, 2] == [hash_threads_for(n, cores=8) for n in (2, 4)]


def test_hash_threads_setting_overrides_the_share():
    """
    LOGINSVC_HASH_THREADS wins; unset, the share is decided where workers start.
    """
    assert 3 == Settings.from_env({"LOGINSVC_HASH_THREADS": "3"}).hash_threads
    assert None is Settings.from_env({}).hash_threads


async def _logins(url: str, count: int) -> list[int | str]:
    body = {
        "loginId": "admin@example.com",
        "password": "demo-password-change-me",
        "applicationId": APPLICATION_ID,
    }
    headers = {"Authorization": DEMO_KEY}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one() -> int | str:
            try:
                async with session.post(
                    f"{url}/api/login", json=body, headers=headers
                ) as response:
                    await response.read()
                    return response.status
            except aiohttp.ClientError as error:
                return type(error).__name__

        return list(await asyncio.gather(*(one() for _ in range(count))))


@pytest.mark.redis
@pytest.mark.slow
async def test_sigterm_lets_in_flight_logins_finish(tmp_path):
    """
    Logins queued for hashing when SIGTERM arrives are answered, not dropped.
    """
    # A generous queue limit: on a loaded machine 24 owasp logins may wait
    # longer than the default 2 s, and this test is about draining, not load.
    env = {
        **clean_env(),
        "LOGINSVC_HASH_PROFILE": "owasp",
        "LOGINSVC_HASH_MAX_WAIT_MS": "60000",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "loginsvc", "serve", "--port", "0",
                "--data-dir", str(tmp_path / "data"), "--workers", "2",
                "--kickstart", str(DEMO),
            ],
            cwd=ROOT,
            env=env,
            stderr=stderr,
        )  # fmt: skip
    try:
        url = wait_for_line(log, r"service_started url=(\S+) workers=2", process)
        logins = asyncio.ensure_future(_logins(url, 24))
        await asyncio.sleep(0.15)
        process.send_signal(signal.SIGTERM)
        statuses = await logins
        returncode = await asyncio.to_thread(process.wait, 60)
    finally:
        if process.poll() is None:
            process.kill()
            stop_orphaned_redis(log)
    text = log.read_text()
    threads = re.findall(r"worker_started .*hash_threads=(\d+)", text)

    assert [200] * 24 == statuses, text
    assert 0 == returncode
    assert [str(hash_threads_for(2, os.cpu_count()))] * 2 == threads
