"""
The event-log commands: ``rebuild``, ``verify``, ``replay`` and ``archive``.

Each connects to ``LOGINSVC_REDIS_URL``, returns an exit status, and on
failure prints one line to stderr. ``replay`` piped into a reader that stops
early (``| head``) ends quietly with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any, TextIO, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from loginsvc import keys
from loginsvc.config import ConfigError, Settings
from loginsvc.connection import connect, disconnect
from projections.archive import Archive, ArchiveError
from projections.archiver import archive_streams
from projections.collector import rare_collections
from projections.fold import RebuildError, recorded_partitions
from projections.rebuild import rebuild
from projections.replay import (
    JsonLines,
    ReplayFilter,
    as_json,
    as_row,
    merged,
    parse_time,
    replay,
)
from projections.verify import verify

Command = Callable[[argparse.Namespace, Redis, int], Awaitable[int]]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ProgressLine:
    """
    Events per second and an ETA on a terminal; one summary line otherwise.
    """

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.done, self.out = total, 0, out
        self.started = self.shown = time.monotonic()

    def __call__(self, tag: str, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if not self.out.isatty() or now - self.shown < 0.2:
            return
        self.shown = now
        rate = self.done / max(now - self.started, 1e-6)
        eta = max(self.total - self.done, 0) / max(rate, 1e-6)
        self.out.write(
            f"\r{tag} {self.done}/{self.total} events {rate:,.0f}/s ETA {eta:.0f}s "
        )
        self.out.flush()

    def finish(self, what: str) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / max(elapsed, 1e-6)
        end = "\n" if self.out.isatty() else ""
        self.out.write(
            f"{end}{what}: {self.done} events in {elapsed:.1f}s ({rate:,.0f}/s)\n"
        )


async def _total_events(redis: Redis, partitions: int) -> int:
    counts = [await redis.xlen(keys.event_stream(t)) for t in keys.all_tags(partitions)]
    return sum(counts)


async def _archive_of(args: argparse.Namespace, redis: Redis) -> Archive | None:
    """
    The archive named by ``--archive``, else the one ``archive`` recorded.
    """
    folder = args.archive
    if folder is None:
        recorded: Any = await redis.hget(keys.archive_state(), "folder")
        folder = None if recorded is None else Path(os.fsdecode(recorded))
    return None if folder is None else Archive(folder)


async def _rebuild(args: argparse.Namespace, redis: Redis, partitions: int) -> int:
    line = ProgressLine(await _total_events(redis, partitions), sys.stderr)
    archive = await _archive_of(args, redis)
    report = await rebuild(
        redis,
        partitions,
        wall_ms,
        progress=line,
        archive=archive,
        workers=args.workers,
    )
    spilled = f", spilled {report.spilled} to staging" if report.spilled else ""
    line.finish(f"rebuilt {report.keys} keys, deleted {report.deleted}{spilled}")
    return 0


async def _verify(args: argparse.Namespace, redis: Redis, partitions: int) -> int:
    line = ProgressLine(await _total_events(redis, partitions), sys.stderr)
    archive = await _archive_of(args, redis)
    report = await verify(redis, partitions, wall_ms, progress=line, archive=archive)
    for difference in report.differences:
        print(difference)
    line.finish(f"verified {report.keys} keys, {len(report.differences)} differences")
    return 1 if report.differences else 0


async def _replay(args: argparse.Namespace, redis: Redis, partitions: int) -> int:
    wanted = ReplayFilter(
        user_id=args.user,
        login_id=args.login_id,
        application_id=args.application,
        types=frozenset(args.type or ()),
        outcome=args.outcome,
        since=args.since,
        until=args.until,
    )
    archive = await _archive_of(args, redis)
    tags = keys.all_tags(partitions)
    if args.format == "json" and wanted == ReplayFilter():
        await _replay_all(redis, tags, archive, sys.stdout)
        return 0
    render = as_row if args.format == "table" else as_json
    async for envelope in replay(redis, tags, wanted, archive):
        sys.stdout.write(render(envelope) + "\n")
    sys.stdout.flush()
    return 0


async def _replay_all(
    redis: Redis, tags: list[str], archive: Archive | None, out: TextIO
) -> None:
    """
    Every event as a JSON line, rendered from the stored records a run at a time.
    """
    lines = JsonLines()
    async with aclosing(merged(redis, tags, archive)) as runs:
        async for run in runs:
            chunk = lines.lines(run)
            if hasattr(out, "buffer"):
                out.buffer.write(chunk)
            else:
                out.write(chunk.decode())
    out.flush()


async def _archive(args: argparse.Namespace, redis: Redis, partitions: int) -> int:
    report = await archive_streams(redis, partitions, args.before, args.to)
    print(
        f"archived {report.events} events into {len(report.files)} files, "
        f"trimmed {report.trimmed} stream entries",
        file=sys.stderr,
    )
    return 0


#: How long an event-log command waits for one reply. The service gives up
#: after ``redis_timeout_s`` (2 s), but these commands make calls that take
#: long on a big store: a rebuild's swap renames a whole partition in one
#: script, about 7 us a key (2 s at 300,000 keys).
REPLY_TIMEOUT_S = 300.0


async def _connected(
    command: Command, args: argparse.Namespace, settings: Settings
) -> int:
    # The projections are typed for Redis; a RedisCluster answers the same
    # commands on the same keys (tests/test_cluster.py runs rebuild/verify).
    redis = cast(Redis, connect(settings, REPLY_TIMEOUT_S))
    try:
        return await command(args, redis, await _partitions(args, redis))
    finally:
        await disconnect(redis)


async def _partitions(args: argparse.Namespace, redis: Redis) -> int:
    """
    The store's partition count; ``--partitions`` may only repeat it.
    """
    recorded = await recorded_partitions(redis)
    wanted: int | None = args.partitions
    if recorded is None:
        if wanted is None:
            raise RebuildError(
                f"No partition count is recorded in '{keys.partition_count()}'; "
                "pass --partitions."
            )
        return wanted
    if wanted not in (None, recorded):
        # Folding another count would miss users and sweep their index keys.
        raise RebuildError(
            f"This store has {recorded} partitions (recorded in "
            f"'{keys.partition_count()}'), not {wanted}."
        )
    return recorded


def _runner(name: str, command: Command) -> Callable[..., int]:
    def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
        try:
            settings = Settings.from_env(environ)
            if not settings.redis_url:
                raise ConfigError(f"'LOGINSVC_REDIS_URL' must be set for '{name}'.")
            with rare_collections():
                return asyncio.run(_connected(command, args, settings))
        except (ConfigError, RebuildError, ArchiveError, ValueError) as error:
            print(f"loginsvc {name}: {error}", file=sys.stderr)
        except BrokenPipeError:
            # The reader stopped early (``| head``): not a failure of a
            # replay, but a verify cut short has not said it found nothing.
            # Python would report the pipe again when it flushes stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0 if name == "replay" else 1
        except OSError as error:
            print(f"loginsvc {name}: {error.strerror or error}.", file=sys.stderr)
        except RedisError as error:
            print(
                f"loginsvc {name}: Redis failed ({type(error).__name__}).",
                file=sys.stderr,
            )
        except KeyboardInterrupt:
            print(f"loginsvc {name}: interrupted.", file=sys.stderr)
        return 1

    return run


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a whole number of 1 or more")
    return int(raw)


def _time(raw: str) -> int:
    try:
        return parse_time(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    command: Command,
    summary: str,
    description: str,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary, description=description
    )
    parser.add_argument(
        "--partitions",
        type=_positive,
        help="number of user partitions, for a store that has none recorded "
        "(default: the count recorded in Redis)",
    )
    run = _runner(name, command)
    parser.set_defaults(func=run, handler=run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """
    Add the ``rebuild``, ``verify``, ``replay`` and ``archive`` commands.
    """
    rebuild_parser = _add(
        subparsers,
        "rebuild",
        _rebuild,
        "rebuild every projection from the event streams",
        "Fold every partition's stream into staging keys and swap them in, one "
        "partition at a time, while the service keeps running. TTL keys come back "
        "with their remaining lifetime. Refuses to run twice at once.",
    )
    verify_parser = _add(
        subparsers,
        "verify",
        _verify,
        "compare projections with the fold of the event streams",
        "Fold the streams in memory and print every projection or index key that "
        "differs (values shown as digests). Exits 1 when anything differs.",
    )
    replay_parser = _add(
        subparsers,
        "replay",
        _replay,
        "print events in time order, filtered",
        "Print the events of every partition merged into one time order, as JSON "
        "lines or a table. Passwords, secrets, hashes and digests are left out.",
    )
    for reader in (rebuild_parser, verify_parser, replay_parser):
        reader.add_argument(
            "--archive",
            type=Path,
            metavar="DIR",
            help="archive folder read before the streams (default: the folder "
            "'archive' recorded)",
        )
    rebuild_parser.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="partitions folded at once, each in its own process of about "
        "120 MB at most (default: 2, or 1 on one CPU; 1 leaves the other cores "
        "to a running service)",
    )
    add = replay_parser.add_argument
    add("--user", metavar="ID", help="only events of this user id")
    add("--login-id", metavar="LOGIN_ID", help="only attempts with this loginId")
    add("--application", metavar="ID", help="only events of this application id")
    add("--type", action="append", help="only this event type (repeatable)")
    add("--outcome", help="only login attempts with this outcome")
    add("--since", type=_time, help="from this time (ISO-8601 or epoch ms)")
    add("--until", type=_time, help="up to this time (ISO-8601 or epoch ms)")
    add("--format", choices=("json", "table"), default="json", help="output format")
    archive_parser = _add(
        subparsers,
        "archive",
        _archive,
        "move older events into checksummed archive files and trim the streams",
        "Write every user partition's events older than --before into gzip'd "
        "msgpack files, one per partition and UTC day, listed with their SHA-256 "
        "in DIR/manifest.json; read them back, and only then trim those entries "
        "from the streams. The {sys} stream is never archived: processes read it "
        "at startup. rebuild, verify and replay read the archive, then the "
        "streams. Running it twice for the same range writes nothing twice.",
    )
    archive_parser.add_argument(
        "--before",
        type=_time,
        required=True,
        help="archive events older than this (ISO-8601 or epoch ms)",
    )
    archive_parser.add_argument(
        "--to", type=Path, required=True, metavar="DIR", help="archive folder"
    )
