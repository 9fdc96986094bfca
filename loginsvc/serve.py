"""
``loginsvc serve``: Redis, a one-time kickstart, then one worker per core.

The parent process starts the embedded redis-server (unless
``LOGINSVC_REDIS_URL`` names one), runs the kickstart file once against an app
on a private unix socket, then spawns workers that each bind ``host:port`` with
``SO_REUSEPORT`` so the kernel spreads connections over them. It restarts a
worker that dies and, on SIGINT or SIGTERM, drains the workers before it stops
Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import socket
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, UnixConnector, web

from loginsvc.app import make_app
from loginsvc.config import Settings, hash_threads_for
from loginsvc.kickstart import (
    Kickstart,
    KickstartError,
    KickstartRequest,
    run_kickstart,
)
from loginsvc.redis_server import EmbeddedRedis, EmbeddedRedisError
from loginsvc.services.bootstrap import (
    claim_kickstart,
    create_api_key,
    earlier_kickstart,
    kickstart_completed,
    kickstart_progressed,
)

logger = logging.getLogger(__name__)

#: A worker that dies is restarted at most this often per window, so a crash
#: loop (say, Redis gone for good) ends instead of spinning.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
WORKER_START_TIMEOUT_S = 60.0
KICKSTART_REQUEST_TIMEOUT_S = 30.0
#: How long an app's cleanup may take beyond draining requests.
CLEANUP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """
    What ``loginsvc serve`` was asked for on the command line.
    """

    host: str = "127.0.0.1"
    port: int = 9011
    data_dir: Path = Path("data")
    workers: int = 1
    #: In-flight requests get this long to finish when a worker stops.
    shutdown_timeout_s: float = 10.0


def serve(
    options: ServeOptions,
    settings: Settings,
    kickstart: Kickstart | None = None,
    log_setup: Callable[[], None] | None = None,
) -> int:
    """
    Run the service until SIGINT or SIGTERM; return the exit status.

    ``log_setup`` is called first thing in each worker process.
    """
    return asyncio.run(_serve(options, settings, kickstart, log_setup))


async def _serve(
    options: ServeOptions,
    settings: Settings,
    kickstart: Kickstart | None,
    log_setup: Callable[[], None] | None,
) -> int:
    # Signals only set the event: a kickstart half-run is worse than a delay.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    try:
        reservation = _reserve_port(options.host, options.port)
    except OSError as exc:
        logger.error(
            "listen_failed host=%s port=%s reason=%s",
            options.host,
            options.port,
            exc.strerror or exc,
        )
        return 1

    embedded: EmbeddedRedis | None = None
    try:
        if settings.redis_url is None:
            embedded = EmbeddedRedis(options.data_dir, settings.redis_appendfsync)
            embedded.start()
            await embedded.wait_ready()
            settings = replace(settings, redis_url=embedded.url)
        if kickstart is not None:
            await _kickstart_once(settings, kickstart)
        if stop.is_set():
            return 0

        port = reservation.getsockname()[1]
        if settings.hash_threads is None:
            threads = hash_threads_for(options.workers)
            settings = replace(settings, hash_threads=threads)
        supervisor = _Supervisor(options, settings, port, log_setup)
        return await supervisor.run(stop, "embedded" if embedded else "external")
    except EmbeddedRedisError as exc:
        logger.error("redis_start_failed reason=%s", exc)
        return 1
    except KickstartError as exc:
        logger.error("kickstart_failed reason=%s", exc)
        return 1
    finally:
        reservation.close()
        if embedded is not None:
            embedded.stop()


async def _kickstart_once(settings: Settings, kickstart: Kickstart) -> None:
    """
    Replay the kickstart file through the HTTP API, if the store is pristine.
    """
    with tempfile.TemporaryDirectory(prefix="loginsvc-") as tmp:
        path = os.path.join(tmp, "kickstart.sock")
        app = make_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.UnixSite(runner, path).start()
            if not await claim_kickstart(app, len(kickstart.requests)):
                await _log_skipped(app)
                return
            await _replay(app, kickstart, path)
            await kickstart_completed(app)
        finally:
            await _cleanup(runner, CLEANUP_TIMEOUT_S)


async def _log_skipped(app: web.Application) -> None:
    """
    Say why the kickstart is skipped; loudly if an earlier one stopped half-way.
    """
    earlier = await earlier_kickstart(app)
    if earlier is None:
        logger.info("kickstart_skipped reason=not_pristine")
    elif earlier.completed is not None:
        logger.info("kickstart_skipped reason=completed")
    else:
        # Like FusionAuth (ISS#803) it is not re-run: its requests are not
        # idempotent, and half of them already took effect.
        logger.warning(
            "kickstart_incomplete stopped_at_request=%s requests=%s "
            "detail=An earlier kickstart stopped at request %s (numbered from 0) "
            "and left the store half-configured; it is not run again. To "
            "kickstart afresh, start on an empty --data-dir or an empty Redis.",
            earlier.sent,
            earlier.requests,
            earlier.sent,
        )


async def _replay(app: web.Application, kickstart: Kickstart, path: str) -> None:
    async def send(request: KickstartRequest, key: str) -> tuple[int, bytes]:
        headers = {
            "Authorization": key,
            "Content-Type": request.content_type or "application/json",
        }
        if request.tenant_id:
            headers["X-FusionAuth-TenantId"] = request.tenant_id
        data = b"" if request.body is None else json.dumps(request.body).encode()
        async with session.request(
            request.method, f"http://loginsvc{request.url}", data=data, headers=headers
        ) as response:
            return response.status, await response.read()

    timeout = ClientTimeout(total=KICKSTART_REQUEST_TIMEOUT_S)
    connector = UnixConnector(path=path)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        await run_kickstart(
            kickstart,
            functools.partial(create_api_key, app),
            send,
            functools.partial(kickstart_progressed, app),
        )


class _Supervisor:
    """
    Starts the workers, restarts one that dies, and stops them all.
    """

    def __init__(
        self,
        options: ServeOptions,
        settings: Settings,
        port: int,
        log_setup: Callable[[], None] | None,
    ) -> None:
        self.options = options
        self.settings = settings
        self.port = port
        self.log_setup = log_setup
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[SpawnProcess, Event]] = []
        self.restarts: deque[float] = deque()

    async def run(self, stop: asyncio.Event, redis_kind: str) -> int:
        self.workers = [self._spawn(index) for index in range(self.options.workers)]
        try:
            status = await self._wait_ready(stop)
            if status == 0 and not stop.is_set():
                logger.info(
                    "service_started url=%s workers=%s redis=%s",
                    _http_url(self.options.host, self.port),
                    self.options.workers,
                    redis_kind,
                )
                status = await self._watch(stop)
        finally:
            await self._terminate()
        return status

    def _spawn(self, index: int) -> tuple[SpawnProcess, Event]:
        ready = self.context.Event()
        process = self.context.Process(
            target=_worker_main,
            name=f"loginsvc-worker-{index}",
            args=(self.settings, self.options, self.port, index, os.getpid(), ready),
            kwargs={"log_setup": self.log_setup},
            daemon=True,
        )
        process.start()
        return process, ready

    async def _wait_ready(self, stop: asyncio.Event) -> int:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not all(ready.is_set() for _, ready in self.workers):
            for index, (process, _) in enumerate(self.workers):
                if not process.is_alive():
                    logger.error(
                        "worker_start_failed index=%s status=%s",
                        index,
                        process.exitcode,
                    )
                    return 1
            if time.monotonic() > deadline:
                logger.error(
                    "worker_start_timed_out after_s=%s", WORKER_START_TIMEOUT_S
                )
                return 1
            if stop.is_set():
                return 0
            await asyncio.sleep(0.05)
        return 0

    async def _watch(self, stop: asyncio.Event) -> int:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            for index, (process, _) in enumerate(self.workers):
                if stop.is_set() or process.is_alive():
                    continue
                logger.warning(
                    "worker_exited index=%s pid=%s status=%s",
                    index,
                    process.pid,
                    process.exitcode,
                )
                if not self._may_restart():
                    logger.error(
                        "worker_restarts_exhausted limit=%s window_s=%s",
                        MAX_RESTARTS,
                        RESTART_WINDOW_S,
                    )
                    return 1
                self.workers[index] = self._spawn(index)
        return 0

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_S:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            return False
        self.restarts.append(now)
        return True

    async def _terminate(self) -> None:
        for process, _ in self.workers:
            if process.is_alive():
                process.terminate()

        # Workers drain for shutdown_timeout_s; a little more covers app cleanup.
        deadline = (
            time.monotonic() + self.options.shutdown_timeout_s + 2 * CLEANUP_TIMEOUT_S
        )
        for process, _ in self.workers:
            await asyncio.to_thread(process.join, max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("worker_killed pid=%s", process.pid)
                process.kill()
                await asyncio.to_thread(process.join)
        self.workers = []


def _worker_main(
    settings: Settings,
    options: ServeOptions,
    port: int,
    index: int,
    parent_pid: int,
    ready: Event,
    log_setup: Callable[[], None] | None = None,
) -> None:
    """
    The body of one worker process.
    """
    if log_setup is not None:
        log_setup()
    asyncio.run(_work(settings, options, port, index, parent_pid, ready))


async def _work(
    settings: Settings,
    options: ServeOptions,
    port: int,
    index: int,
    parent_pid: int,
    ready: Event,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    runner = web.AppRunner(
        make_app(settings),
        access_log=None,
        shutdown_timeout=options.shutdown_timeout_s,
    )
    await runner.setup()
    try:
        await web.SockSite(runner, _listen(options.host, port)).start()
        ready.set()
        logger.info(
            "worker_started index=%s pid=%s hash_threads=%s",
            index,
            os.getpid(),
            settings.hash_threads,
        )

        # A parent killed with SIGKILL cannot tell us to stop: poll for it.
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if os.getppid() != parent_pid:
                logger.warning("worker_orphaned index=%s pid=%s", index, os.getpid())
                break
    finally:
        await _cleanup(runner, options.shutdown_timeout_s + CLEANUP_TIMEOUT_S)
    logger.info("worker_stopped index=%s pid=%s", index, os.getpid())


async def _cleanup(runner: web.AppRunner, timeout_s: float) -> None:
    """
    Clean an app up, but never wait forever for it.
    """
    # A background task that swallows its cancellation (redis-py can, when it
    # lands as a command starts) must not keep the process alive.
    try:
        await asyncio.wait_for(runner.cleanup(), timeout_s)
    except TimeoutError:
        logger.warning("app_cleanup_timed_out after_s=%s", timeout_s)


def _reserve_port(host: str, port: int) -> socket.socket:
    """
    Hold ``host:port`` for the workers, failing if anything else listens there.
    """
    # Bound without SO_REUSEPORT first: with it, a stale instance still
    # listening on the port would silently share our traffic.
    with _socket(host, port, reuse_port=False) as probe:
        port = probe.getsockname()[1]
    return _socket(host, port, reuse_port=True)


def _listen(host: str, port: int) -> socket.socket:
    sock = _socket(host, port, reuse_port=True)
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
