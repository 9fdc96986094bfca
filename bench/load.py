"""
The load generator: a separate process that drives one endpoint over loopback.

``python -m bench.load SPEC.json`` reads a spec and prints one JSON result. It
runs closed-loop (``concurrency`` requests always in flight) or open-loop at a
fixed ``rate``; either way it stops after ``duration_s`` or ``max_requests``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

#: A request that takes longer than this counts as timed out.
REQUEST_TIMEOUT_S = 10.0


def percentile(values: list[float], share: float) -> float:
    """
    The nearest-rank percentile of already sorted values; 0 when empty.
    """
    if not values:
        return 0.0
    rank = min(len(values) - 1, max(0, round(share * len(values) + 0.5) - 1))
    return values[rank]


class Recorder:
    """
    Latencies per status, and the end of the measured window.
    """

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.retry_after = 0

    def add(self, status: str, seconds: float) -> None:
        self.latencies.setdefault(status, []).append(seconds * 1000)

    def summary(self, elapsed: float) -> dict[str, Any]:
        every = sorted(v for values in self.latencies.values() for v in values)
        by_status = {}
        for status, values in self.latencies.items():
            values.sort()
            by_status[status] = {
                "count": len(values),
                "p50_ms": percentile(values, 0.50),
                "p99_ms": percentile(values, 0.99),
            }
        return {
            "count": len(every),
            "elapsed_s": elapsed,
            "per_s": len(every) / elapsed if elapsed else 0.0,
            "p50_ms": percentile(every, 0.50),
            "p99_ms": percentile(every, 0.99),
            "statuses": by_status,
            "retry_after": self.retry_after,
        }


async def one(
    session: aiohttp.ClientSession, spec: dict[str, Any], index: int, rec: Recorder
) -> None:
    method, path, body = spec["requests"][index % len(spec["requests"])]
    headers = spec.get("headers") or {}
    data = None
    if isinstance(body, str):
        data = body.encode()
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    elif body is not None:
        data = json.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"}
    started = time.perf_counter()
    try:
        async with session.request(
            method, spec["url"] + path, data=data, headers=headers
        ) as response:
            await response.read()
            status = str(response.status)
            if "Retry-After" in response.headers:
                rec.retry_after += 1
    except TimeoutError:
        status = "timeout"
    except aiohttp.ClientError as error:
        status = type(error).__name__
    rec.add(status, time.perf_counter() - started)


async def closed_loop(
    session: aiohttp.ClientSession, spec: dict[str, Any], rec: Recorder
) -> None:
    deadline = time.perf_counter() + spec["duration_s"]
    limit = spec["max_requests"]
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < limit and time.perf_counter() < deadline:
            index = issued
            issued += 1
            await one(session, spec, index, rec)

    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))


async def open_loop(
    session: aiohttp.ClientSession, spec: dict[str, Any], rec: Recorder
) -> None:
    rate, limit = spec["rate"], spec["max_requests"]
    total = min(limit, int(rate * spec["duration_s"]))
    started = time.perf_counter()
    tasks = set()
    for index in range(total):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(session, spec, index, rec))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """
    Run the spec's load; the summary of what was measured.
    """
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    rec = Recorder()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        if spec.get("rate"):
            await open_loop(session, spec, rec)
        else:
            await closed_loop(session, spec, rec)
        elapsed = time.perf_counter() - started
    return rec.summary(elapsed)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    print(json.dumps(asyncio.run(drive(spec))))


if __name__ == "__main__":
    main()
