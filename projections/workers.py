"""
Worker processes for the event-log commands: started so that an interrupt
reaches only the command's own process, with the event types, upcasters and
writers the command registered, and with results that arrive as asyncio
futures.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import signal
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from events import codec
from projections import writes

T = TypeVar("T")


def registering_modules() -> set[str]:
    """
    The modules that registered event types, upcasters or writers here.
    """
    found = {cls.__module__ for cls in codec.registered_types().values()}
    found |= {f.__module__ for f in codec._UPCASTERS.values()}
    found |= {w.__module__ for ws in writes._WRITERS.values() for w in ws}
    return found


def _start(modules: tuple[str, ...]) -> None:
    # The parent handles interrupts and ends its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in modules:
        importlib.import_module(module)


class WorkerPool:
    """
    ``count`` spawned processes that import ``modules`` first.

    Use it as a context manager: leaving it normally waits for the work
    handed out; leaving it with an exception (an interrupt, a failure)
    terminates the processes at once.
    """

    def __init__(self, count: int, modules: Iterable[str]) -> None:
        self._loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        # The pool's threads and processes start with SIGINT blocked, so the
        # kernel hands an interrupt to this thread and wakes the event loop.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._pool = context.Pool(
                count, initializer=_start, initargs=(tuple(sorted(modules)),)
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def submit(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """
        Run ``function(*args)`` in a worker; its result (or error) as a future.
        """
        future: asyncio.Future[T] = self._loop.create_future()

        def done(value: T) -> None:
            self._loop.call_soon_threadsafe(_settle, future, value, None)

        def failed(error: BaseException) -> None:
            self._loop.call_soon_threadsafe(_settle, future, None, error)

        self._pool.apply_async(function, args, callback=done, error_callback=failed)
        return future

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: Any) -> None:
        try:
            if kind is None:
                self._pool.close()
                self._pool.join()
        finally:
            self._pool.terminate()


def _settle(
    future: asyncio.Future[Any], value: Any, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
