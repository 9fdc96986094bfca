"""
Benchmark of the event-log commands: ``rebuild`` and ``replay`` over a large
generated log, run as the real CLI in a subprocess against a private
redis-server on a unix socket.

    python -m bench.eventlog [--users 10000] [--per-user 100] [--runs 3]

It writes the figures to ``bench/EVENTLOG.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.report import cpu_model  # noqa: E402
from events import catalog as _events  # noqa: E402,F401
from events.codec import Envelope, encode  # noqa: E402
from events.login import LoggedIn, LoginAttempted  # noqa: E402
from events.user import UserCreated, UserRegistered  # noqa: E402
from loginsvc import keys  # noqa: E402

PARTITIONS = 16
APP_ID = "3c219e58-ed0e-4b18-ad48-f4f92793ae32"
PIPELINE = 5000


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """
    A throwaway redis-server on a unix socket in ``folder``, persistence off.
    """
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("redis-server did not start")
        time.sleep(0.05)
    return proc, f"unix://{sock}"


def user_doc(user_id: str, n: int, at: int) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"user{n}@example.com",
        "username": f"user{n}",
        "password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$" + "h" * 43,
        "active": True,
        "verified": True,
        "insertInstant": at,
        "lastUpdateInstant": at,
        "passwordChangeRequired": False,
        "passwordLastUpdateInstant": at,
        "tenantId": "6b8f2a51-4e0d-4a49-9c8c-0fd7c0a2b1d3",
        "twoFactor": {"methods": []},
        "data": {},
    }


def user_events(user_id: str, n: int, per_user: int, at: int) -> list[Any]:
    registration = {
        "applicationId": APP_ID,
        "id": str(uuid.uuid4()),
        "roles": ["user"],
        "insertInstant": at,
        "verified": True,
    }
    events: list[Any] = [UserCreated(user_doc(user_id, n, at))]
    events.append(UserRegistered(registration))
    login_id = f"user{n}@example.com"
    for i in range(per_user - 2):
        if i % 2 == 0:
            events.append(
                LoginAttempted(login_id, "succeeded", user_id, APP_ID, "127.0.0.1")
            )
        else:
            events.append(
                LoggedIn(
                    user_id, "PASSWORD", APP_ID, True, "127.0.0.1", login_id, "email"
                )
            )
    return events


def generate(url: str, users: int, per_user: int) -> int:
    """
    Append ``users`` x ``per_user`` events straight to the streams (XADD).
    """
    client = redis.Redis.from_url(url)
    client.set(keys.partition_count(), PARTITIONS)
    start = int(time.time() * 1000) - 86_400_000
    ids = [str(uuid.uuid4()) for _ in range(users)]
    tags = [keys.tag(keys.partition_of(u, PARTITIONS)) for u in ids]
    streams = [keys.event_stream(tag) for tag in tags]
    written = 0
    pipe = client.pipeline(transaction=False)
    # Users are interleaved, as a busy service writes them.
    per = {u: user_events(u, n, per_user, start) for n, u in enumerate(ids)}
    for step in range(per_user):
        at = start + step * 600_000
        for n, user_id in enumerate(ids):
            event = per[user_id][step]
            raw = encode(Envelope(event, f"user:{user_id}", step + 1, at + n))
            pipe.xadd(streams[n], {"e": raw})
            written += 1
            if written % PIPELINE == 0:
                pipe.execute()
    pipe.execute()
    client.close()
    return written


def _tree(pid: int) -> list[int]:
    """
    ``pid`` and its descendants (Linux ``/proc``).
    """
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) if found else 0


def run_cli(url: str, args: list[str], out: Any) -> tuple[float, int]:
    """
    Run ``loginsvc`` with ``args``: its wall time in seconds and the peak of
    the summed RSS (KB) of the CLI and its worker processes, sampled every
    20 ms.
    """
    env = {**os.environ, "LOGINSVC_REDIS_URL": url}
    command = [sys.executable, "-m", "loginsvc", *args]
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=errors, cwd=ROOT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, sum(_rss_kb(pid) for pid in _tree(proc.pid)))
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"loginsvc {' '.join(args)} failed: {err[-2000:]}")
    return elapsed, peak


def measure(url: str, events: int, runs: int) -> dict[str, list[tuple[float, int]]]:
    results: dict[str, list[tuple[float, int]]] = {"rebuild": [], "replay": []}
    for _ in range(runs):
        results["rebuild"].append(run_cli(url, ["rebuild"], subprocess.DEVNULL))
        print(f"rebuild: {events / results['rebuild'][-1][0]:,.0f} events/s")
    for _ in range(runs):
        with open(os.devnull, "wb") as sink:
            results["replay"].append(run_cli(url, ["replay"], sink))
        print(f"replay: {events / results['replay'][-1][0]:,.0f} events/s")
    return results


def report(events: int, users: int, generated_s: float, results: dict[str, Any]) -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        "# Event-log benchmark",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
        f"- nproc: {os.cpu_count()}; CPU: {cpu_model()}",
        f"- load average at the end: {' '.join(load)}",
        f"- log: {events:,} events ({users:,} users, {PARTITIONS} partitions), "
        f"generated by XADD pipelining in {generated_s:.1f}s",
        "- each command runs as `python -m loginsvc ...` in a subprocess "
        "(wall time includes interpreter start); peak RSS is the largest sum of "
        "the CLI's and its worker processes' RSS, sampled every 20 ms",
        "",
        "| command | runs | median s | median events/s | peak RSS MB, all processes |",
        "|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        seconds = statistics.median(t for t, _ in runs)
        rss = max(r for _, r in runs) / 1024
        lines.append(
            f"| {name} | {len(runs)} | {seconds:.2f} | {events / seconds:,.0f} | "
            f"{rss:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--per-user", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "EVENTLOG.md")
    parser.add_argument("--url", help="use this (empty) Redis instead of starting one")
    parser.add_argument(
        "--generate-only", action="store_true", help="fill --url and stop"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loginsvc-bench-eventlog-"))
    proc, url = (None, args.url) if args.url else start_redis(folder)
    try:
        started = time.monotonic()
        events = generate(url, args.users, args.per_user)
        generated_s = time.monotonic() - started
        print(f"generated {events:,} events in {generated_s:.1f}s")
        if args.generate_only:
            return
        results = measure(url, events, args.runs)
        text = report(events, args.users, generated_s, results)
        args.out.write_text(text)
        print(text)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
