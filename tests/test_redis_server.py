from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from loginsvc.config import ConfigError, Settings
from loginsvc.redis_server import EmbeddedRedis, EmbeddedRedisError

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.
# ruff: noqa: SIM300


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def fake_redis_server(directory: Path, script: str) -> Path:
    """
    A ``redis-server`` stand-in on a PATH of its own, running ``script``.
    """
    directory.mkdir()
    binary = directory / "redis-server"
    binary.write_text("#!/bin/sh\n" + script + "\n")
    binary.chmod(0o755)
    return directory


@pytest.mark.redis
async def test_embedded_redis_answers_ping_on_its_socket_with_aof_on(tmp_path):
    """
    The server answers on the unix socket only, with AOF and the fsync policy.
    """
    async with EmbeddedRedis(tmp_path / "data", "everysec") as server:
        client = Redis.from_url(server.url, decode_responses=True)
        pong = await client.ping()
        config = await client.config_get("appendonly")
        config |= await client.config_get("appendfsync")
        config |= await client.config_get("port")
        config |= await client.config_get("save")
        await client.aclose()
        pid = server.pid

    expected = {"appendonly": "yes", "appendfsync": "everysec", "port": "0", "save": ""}
    assert True is pong
    assert expected == config
    assert f"unix://{tmp_path / 'data' / 'redis.sock'}" == server.url
    assert pid is not None
    assert False is is_running(pid)
    assert False is server.socket_path.exists()


@pytest.mark.redis
async def test_data_written_before_a_stop_is_there_after_a_restart(tmp_path):
    """
    The append-only file carries writes across a restart.
    """
    async with EmbeddedRedis(tmp_path) as server:
        client = Redis.from_url(server.url)
        await client.set("kept", "yes")
        await client.aclose()

    async with EmbeddedRedis(tmp_path) as server:
        client = Redis.from_url(server.url)
        kept = await client.get("kept")
        await client.aclose()

    assert b"yes" == kept


@pytest.mark.redis
async def test_a_stale_socket_file_is_removed_before_start(tmp_path):
    """
    A socket file left by a crash does not stop the next start.
    """
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "redis.sock"))
    stale.close()

    async with EmbeddedRedis(tmp_path) as server:
        client = Redis.from_url(server.url)
        pong = await client.ping()
        await client.aclose()

    assert True is pong


@pytest.mark.redis
async def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path):
    """
    Two servers writing one AOF would corrupt it, so the second one refuses.
    """
    async with EmbeddedRedis(tmp_path):
        with pytest.raises(EmbeddedRedisError) as raised:
            EmbeddedRedis(tmp_path).start()

    assert "Another redis-server is already serving" in str(raised.value)


@pytest.mark.redis
async def test_stop_kills_a_server_that_does_not_exit_on_sigterm(tmp_path):
    """
    A server that ignores SIGTERM past the timeout gets SIGKILL.
    """
    server = EmbeddedRedis(tmp_path, stop_timeout_s=0.3)
    await server.__aenter__()
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)

    server.stop()

    assert False is is_running(pid)


def test_a_missing_redis_server_binary_gives_one_clear_error(tmp_path, monkeypatch):
    """
    Without redis-server on PATH the error says how to install it.
    """
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EmbeddedRedisError) as raised:
        EmbeddedRedis(tmp_path / "data").start()

    expected = (
        "redis-server was not found on PATH; install it with 'apt-get install "
        "redis-server' (Debian/Ubuntu) or 'brew install redis', or set "
        "LOGINSVC_REDIS_URL to an existing Redis."
    )
    assert expected == str(raised.value)


async def test_a_server_that_exits_during_start_reports_its_log(tmp_path, monkeypatch):
    """
    The error carries the last lines redis-server wrote before exiting.
    """
    script = 'echo "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"\nexit 1'
    monkeypatch.setenv("PATH", str(fake_redis_server(tmp_path / "bin", script)))
    server = EmbeddedRedis(tmp_path / "data")

    with pytest.raises(EmbeddedRedisError) as raised:
        async with server:
            pass

    assert "exited with status 1 during start" in str(raised.value)
    assert "FATAL CONFIG FILE ERROR" in str(raised.value)
    assert None is server.pid


async def test_a_server_that_never_answers_is_stopped_after_the_timeout(
    tmp_path, monkeypatch
):
    """
    Waiting for PING is bounded, and the silent child is stopped.
    """
    script = f"echo starting\nexec {shutil.which('sleep')} 30"
    monkeypatch.setenv("PATH", str(fake_redis_server(tmp_path / "bin", script)))
    server = EmbeddedRedis(tmp_path / "data", start_timeout_s=0.3)
    server.start()
    pid = server.pid
    assert pid is not None

    with pytest.raises(EmbeddedRedisError) as raised:
        await server.wait_ready()

    assert "did not answer PING within 0.3 s" in str(raised.value)
    assert "starting" in str(raised.value)
    assert False is is_running(pid)


def test_an_unknown_fsync_policy_is_refused(tmp_path):
    """
    Only the policies redis-server knows are accepted.
    """
    with pytest.raises(ValueError, match="'appendfsync' must be one of"):
        EmbeddedRedis(tmp_path, "sometimes")


def test_settings_read_the_fsync_policy_and_refuse_unknown_ones():
    """
    ``LOGINSVC_REDIS_APPENDFSYNC`` defaults to always and names itself on error.
    """
    settings = Settings.from_env({"LOGINSVC_REDIS_APPENDFSYNC": "everysec"})

    with pytest.raises(ConfigError, match="'LOGINSVC_REDIS_APPENDFSYNC' must be"):
        Settings.from_env({"LOGINSVC_REDIS_APPENDFSYNC": "sometimes"})

    assert ("always", "everysec") == (
        Settings.from_env({}).redis_appendfsync,
        settings.redis_appendfsync,
    )


@pytest.mark.parametrize("parent", ["a-regular-file", "/proc"])
def test_a_data_dir_that_cannot_be_created_gives_one_clear_error(tmp_path, parent):
    """
    A data directory under a regular file or under /proc is named, not traced.
    """
    (tmp_path / "a-regular-file").write_text("")
    data_dir = tmp_path / parent / "data"

    with pytest.raises(EmbeddedRedisError) as raised:
        EmbeddedRedis(data_dir).start()

    assert f"The data directory '{data_dir.resolve()}' cannot be used" in str(
        raised.value
    )


SUPERVISOR = """
import asyncio, sys
from pathlib import Path
from loginsvc.redis_server import EmbeddedRedis

async def main():
    server = EmbeddedRedis(Path(sys.argv[1]))
    server.start()
    await server.wait_ready()
    print(server.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def is_alive(pid: int) -> bool:
    """
    Running and not a zombie: an orphan's zombie may wait for a reaper.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.mark.redis
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_embedded_redis_stops_when_its_parent_is_killed(tmp_path):
    """
    A supervisor killed with SIGKILL leaves no redis-server behind.
    """
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", SUPERVISOR, str(tmp_path)],
        cwd=root,
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert False is is_alive(pid)
        assert False is (tmp_path / "redis.sock").exists()
    finally:
        parent.stdout.close()
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)
