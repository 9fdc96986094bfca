"""
``archive``: move a partition's events older than a time into archive files,
check the files by reading them back, and only then trim the streams.

The ``{sys}`` stream is never archived: processes fold it at startup and read
no archive. Trimming is ``XTRIM MINID`` just past the last archived id; stream
ids only grow, so it removes exactly the archived entries. Running it again
for the same range finds nothing new and writes nothing twice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
from redis.asyncio import Redis

from events.store import entry_order, later
from loginsvc import keys
from projections.archive import (
    Archive,
    ArchivedFile,
    ArchiveError,
    file_digest,
    read_records,
)
from projections.source import archived_until

PAGE = 10_000


@dataclass
class ArchiveReport:
    """
    What an archive run wrote and trimmed.
    """

    events: int = 0
    files: list[str] = field(default_factory=list)
    trimmed: int = 0


def period_of(entry_id: str) -> str:
    """
    The UTC day an entry id's timestamp falls in, as ``YYYY-MM-DD``.
    """
    moment = datetime.fromtimestamp(entry_order(entry_id)[0] / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d")


def _digest_of(records: Any) -> tuple[str, int]:
    digest, count = hashlib.sha256(), 0
    for entry_id, envelope in records:
        digest.update(entry_id.encode() + b"\0" + envelope)
        count += 1
    return digest.hexdigest(), count


class PeriodFile:
    """
    One partition-day file being written to a temporary name.
    """

    def __init__(self, archive: Archive, tag: str, period: str) -> None:
        self.archive, self.tag, self.period = archive, tag, period
        self.name = f"{tag.strip('{}')}/{period}.mpk.gz"
        self.path = archive.folder / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = self.path.with_name(self.path.name + ".tmp")
        self.out = gzip.open(self.temporary, "wb", compresslevel=6)  # noqa: SIM115
        self.packer = msgpack.Packer(use_bin_type=True)
        self.digest = hashlib.sha256()
        self.count, self.first, self.last = 0, "", ""
        existing = archive.files.get(self.name)
        if existing is not None:
            for entry_id, envelope in read_records(archive.check(existing)):
                self.add(entry_id, envelope)

    def add(self, entry_id: str, envelope: bytes) -> None:
        self.out.write(self.packer.pack((entry_id, envelope)))
        self.digest.update(entry_id.encode() + b"\0" + envelope)
        self.count += 1
        self.first = self.first or entry_id
        self.last = entry_id

    def finish(self) -> ArchivedFile:
        """
        Close, read back and compare, then rename into place and list it.
        """
        self.out.close()
        with self.temporary.open("rb") as raw:
            os.fsync(raw.fileno())
        if _digest_of(read_records(self.temporary)) != (
            self.digest.hexdigest(),
            self.count,
        ):
            raise ArchiveError(f"'{self.temporary}' did not read back as written.")
        entry = ArchivedFile(
            self.name,
            self.tag,
            self.period,
            self.first,
            self.last,
            self.count,
            file_digest(self.temporary),
        )
        os.replace(self.temporary, self.path)
        self.archive.record(entry)
        return entry


async def _older_pages(redis: Redis, tag: str, after: str, before_ms: int) -> Any:
    stream = keys.event_stream(tag)
    upper = f"{before_ms - 1}-18446744073709551615"
    while True:
        start = "-" if after == "-" else f"({after}"
        entries: Any = await redis.xrange(stream, min=start, max=upper, count=PAGE)
        page = [
            (i.decode() if isinstance(i, bytes) else str(i), f.get(b"e") or f["e"])
            for i, f in entries
        ]
        if page:
            yield page
            after = page[-1][0]
        if len(page) < PAGE:
            return


async def _write_tag(
    redis: Redis, archive: Archive, tag: str, before_ms: int, report: ArchiveReport
) -> None:
    done = archive.last_id(tag) or "-"
    trimmed = await archived_until(redis, tag)
    if trimmed is not None and (
        done == "-" or entry_order(trimmed) > entry_order(done)
    ):
        raise ArchiveError(
            f"Partition '{tag}' was trimmed up to {trimmed}, past what this "
            "archive holds."
        )
    current: PeriodFile | None = None
    async for page in _older_pages(redis, tag, done, before_ms):
        for entry_id, envelope in page:
            period = period_of(entry_id)
            if current is None or current.period != period:
                if current is not None:
                    report.files.append(current.finish().name)
                current = PeriodFile(archive, tag, period)
            current.add(entry_id, envelope)
            report.events += 1
    if current is not None:
        report.files.append(current.finish().name)


async def _trim(redis: Redis, archive: Archive, tag: str) -> int:
    """
    Record how far the tag is archived, then trim the stream up to there.
    """
    last = archive.last_id(tag)
    if last is None:
        return 0
    trimmed = await archived_until(redis, tag)
    mark = last if trimmed is None else later(last, trimmed)
    await redis.hset(keys.archive_state(), tag, mark)
    await redis.hset(keys.archive_state(), "folder", str(archive.folder))
    ms, seq = entry_order(mark)
    removed: Any = await redis.xtrim(
        keys.event_stream(tag), minid=f"{ms}-{seq + 1}", approximate=False
    )
    return int(removed)


async def archive_streams(
    redis: Redis, partitions: int, before_ms: int, folder: Path
) -> ArchiveReport:
    """
    Archive and trim every user partition's events older than ``before_ms``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    archive = Archive(folder.resolve())
    archive.check_all()
    report = ArchiveReport()
    tags = [keys.tag(p) for p in range(partitions)]
    for tag in tags:
        await _write_tag(redis, archive, tag, before_ms, report)
    for tag in tags:
        report.trimmed += await _trim(redis, archive, tag)
    return report
