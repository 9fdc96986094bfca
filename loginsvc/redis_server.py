"""
An embedded ``redis-server``, started as a child process on a unix socket.

It keeps its data (the append-only file) in one directory and answers only on
``<data_dir>/redis.sock``; it never listens on TCP.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from loginsvc.config import APPENDFSYNC_POLICIES

logger = logging.getLogger(__name__)

#: sun_path holds 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH_BYTES = 107
LOG_TAIL_LINES = 20
#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(Exception):
    """
    The embedded redis-server could not be found, started or reached.
    """


class EmbeddedRedis:
    """
    A ``redis-server`` child with AOF on, serving only a unix socket.

    Use ``async with EmbeddedRedis(path) as server`` and connect to
    ``server.url``; or call ``start()``, ``await wait_ready()`` and ``stop()``.
    """

    def __init__(
        self,
        data_dir: Path,
        appendfsync: str = "always",
        *,
        binary: str = "redis-server",
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        if appendfsync not in APPENDFSYNC_POLICIES:
            names = ", ".join(APPENDFSYNC_POLICIES)
            raise ValueError(f"'appendfsync' must be one of {names}.")
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        self.binary = binary
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """
        Launch redis-server without waiting for it; ``wait_ready`` does that.
        """
        if self._process is not None:
            raise EmbeddedRedisError("The embedded redis-server is already started.")
        executable = shutil.which(self.binary)
        if executable is None:
            raise EmbeddedRedisError(
                f"{self.binary} was not found on PATH; install it with "
                "'apt-get install redis-server' (Debian/Ubuntu) or "
                "'brew install redis', or set LOGINSVC_REDIS_URL to an "
                "existing Redis."
            )

        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._check_socket_path()
            config_path = self.data_dir / "redis.conf"
            config_path.write_text(self._config())
            log = self.log_path.open("ab")
        except OSError as exc:
            raise EmbeddedRedisError(
                f"The data directory '{self.data_dir}' cannot be used: "
                f"{exc.strerror or exc}."
            ) from exc

        # A new session keeps a terminal's Ctrl-C away from Redis: the parent
        # stops it last, after the workers have drained.
        with log:
            self._process = subprocess.Popen(  # noqa: S603 (no shell; fixed argv)
                [executable, str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_stop_with_parent(),
            )
        logger.info(
            "redis_started pid=%s socket=%s", self._process.pid, self.socket_path
        )

    async def wait_ready(self) -> None:
        """
        Wait until PING answers; raise with the log's tail if Redis exits first.
        """
        process = self._require_process()
        # The loop below is the retry policy; redis-py's own would back off.
        client = redis.asyncio.Redis(
            unix_socket_path=str(self.socket_path),
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )
        deadline = time.monotonic() + self.start_timeout_s
        try:
            while True:
                if process.poll() is not None:
                    self._process = None
                    raise EmbeddedRedisError(
                        f"redis-server exited with status {process.returncode} "
                        f"during start; last lines of '{self.log_path}':\n"
                        f"{self.log_tail()}"
                    )

                try:
                    await client.ping()
                except redis.exceptions.BusyLoadingError:
                    # Loading a large AOF is progress, not a hang.
                    deadline = time.monotonic() + self.start_timeout_s
                except (redis.exceptions.RedisError, OSError):
                    pass  # not listening yet
                else:
                    logger.info("redis_ready pid=%s", process.pid)
                    return

                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(
                        f"redis-server did not answer PING within "
                        f"{self.start_timeout_s:g} s; last lines of "
                        f"'{self.log_path}':\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def stop(self) -> None:
        """
        Stop redis-server: SIGTERM, then SIGKILL if it outlives the timeout.
        """
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            # SIGTERM makes Redis fsync the AOF and remove its socket file.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("redis_killed pid=%s", process.pid)
                process.kill()
                process.wait()
        logger.info("redis_stopped pid=%s status=%s", process.pid, process.returncode)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """
        The last lines of redis-server's log, or a note if there is none.
        """
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines)).rstrip()
        except FileNotFoundError:
            return "(no log written)"

    async def __aenter__(self) -> EmbeddedRedis:
        self.start()
        try:
            await self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise EmbeddedRedisError("The embedded redis-server is not started.")
        return self._process

    def _check_socket_path(self) -> None:
        path = self.socket_path
        if len(str(path).encode()) > MAX_SOCKET_PATH_BYTES:
            raise EmbeddedRedisError(
                f"The socket path '{path}' is longer than {MAX_SOCKET_PATH_BYTES} "
                "bytes; choose a shorter data directory."
            )
        if not path.exists():
            return

        # A live server on the socket means another redis-server owns this
        # data directory; two writers on one AOF would corrupt it.
        if _socket_accepts(path):
            raise EmbeddedRedisError(
                f"Another redis-server is already serving '{path}'; stop it "
                f"('redis-cli -s {path} shutdown') or choose another data directory."
            )
        path.unlink()
        logger.warning("redis_stale_socket_removed socket=%s", path)

    def _config(self) -> str:
        lines = [
            "# Generated by loginsvc at each start; edits are overwritten.",
            "daemonize no",
            "port 0",
            f"unixsocket {_quote(str(self.socket_path))}",
            "unixsocketperm 700",
            "protected-mode yes",
            f"dir {_quote(str(self.data_dir))}",
            # An empty logfile sends the log to stdout, which goes to redis.log.
            'logfile ""',
            "appendonly yes",
            f"appendfsync {self.appendfsync}",
            'save ""',
            "maxmemory-policy noeviction",
        ]
        return "\n".join(lines) + "\n"


def _stop_with_parent() -> Callable[[], None] | None:
    """
    On Linux, have the kernel send redis-server SIGTERM when the thread that
    started it dies, even by SIGKILL (``prctl(PR_SET_PDEATHSIG)``), so a killed
    supervisor leaves no server holding the data directory.

    SIGTERM makes Redis fsync its AOF and remove its socket before it exits.
    ``start`` must run on a thread that lives as long as the server: the main
    thread, in ``loginsvc serve``.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died between fork and prctl: nobody would signal.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


def _socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _quote(value: str) -> str:
    if any(char in value for char in "\r\n\0"):
        raise EmbeddedRedisError(f"The path {value!r} cannot go in a Redis config.")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
