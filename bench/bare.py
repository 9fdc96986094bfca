"""
The C2 denominator: a bare aiohttp JSON POST handler, one process per core.

``python -m bench.bare PORT WORKERS`` serves until SIGTERM; each process binds
127.0.0.1:PORT with SO_REUSEPORT, as ``loginsvc serve`` does.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    body: Any = await request.json()
    return web.json_response({"ok": True, "loginId": body.get("loginId")})


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _worker(port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/login", echo)
    web.run_app(app, sock=_listen(port), access_log=None, print=None)


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(port,), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    for process in processes:
        process.terminate()
        process.join(10)


if __name__ == "__main__":
    main()
