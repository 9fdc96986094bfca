"""
Replaying the event log: every partition's stream merged into one order by
entry id, filtered, and rendered without secrets.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgpack
import orjson
from redis.asyncio import Redis

from events import catalog as _events  # noqa: F401  (registers every event type)
from events.codec import Envelope, decode, event_data, registered_types
from events.store import entry_order
from projections.archive import Archive
from projections.source import Record, pages

#: Records buffered per partition while merging: every partition holds one
#: page, so this bounds replay's memory (10,000 reached 320 MB over 17 tags).
PAGE = 2_000

#: Field names whose values are never printed, even as hashes or digests.
SECRET_FIELD = re.compile(r"password|secret|hash|digest|private_?key", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """
    Which events to show; an unset criterion matches everything.
    """

    user_id: str | None = None
    login_id: str | None = None
    application_id: str | None = None
    types: frozenset[str] = frozenset()
    outcome: str | None = None
    since: int | None = None
    until: int | None = None

    def matches(self, envelope: Envelope) -> bool:
        data = event_data(envelope.event)
        kind, _, ident = envelope.aggregate.partition(":")
        checks = (
            self.types and envelope.type not in self.types,
            self.since is not None and envelope.at < self.since,
            self.until is not None and envelope.at > self.until,
            self.outcome is not None and data.get("outcome") != self.outcome,
            self.user_id is not None
            and self.user_id not in (data.get("user_id"), _user_of(kind, ident)),
            self.login_id is not None
            and self.login_id.lower() != str(data.get("login_id") or "").lower(),
            self.application_id is not None
            and self.application_id != _application_of(data),
        )
        return not any(checks)


def _user_of(kind: str, ident: str) -> str | None:
    return ident if kind in ("user", "attempt") else None


def _application_of(data: dict[str, Any]) -> Any:
    registration = data.get("registration")
    if isinstance(registration, dict):
        return registration.get("applicationId")
    return data.get("application_id")


def parse_time(raw: str) -> int:
    """
    Epoch milliseconds from digits or an ISO-8601 time (UTC when unzoned).
    """
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is neither epoch ms nor an ISO-8601 time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def redacted(value: Any) -> Any:
    """
    ``value`` without any field named like a password, secret, hash or key.
    """
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items() if not _secret(k)}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


@lru_cache(maxsize=4096)
def _secret(name: Any) -> bool:
    return SECRET_FIELD.search(str(name)) is not None


def record(envelope: Envelope) -> dict[str, Any]:
    """
    An event as one printable, secret-free record.
    """
    return {
        "id": envelope.entry_id,
        "at": iso(envelope.at),
        "type": envelope.type,
        "version": envelope.event.VERSION,
        "aggregate": envelope.aggregate,
        "sequence": envelope.sequence,
        "data": redacted(event_data(envelope.event)),
    }


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_json(envelope: Envelope) -> str:
    return orjson.dumps(record(envelope), default=str).decode()


def as_row(envelope: Envelope) -> str:
    data = record(envelope)["data"]
    detail = " ".join(f"{k}={v}" for k, v in data.items() if v not in (None, [], {}))
    return f"{iso(envelope.at)}  {envelope.type:<22} {envelope.aggregate:<44} {detail}"


async def merged(
    redis: Redis,
    tags: Sequence[str],
    archive: Archive | None = None,
    batch: int = PAGE,
) -> AsyncIterator[list[Record]]:
    """
    Every tag's records in one order, a run at a time: by entry id, ties
    broken by tag.

    Each tag buffers one page; whatever is no later than the earliest last
    entry of the buffers that may still grow is sorted and handed out.
    """
    sources = [pages(redis, tag, archive, "-", batch) for tag in tags]
    buffers: list[list[tuple[tuple[int, int], int, Record]]] = [[] for _ in tags]
    open_ = set(range(len(tags)))
    while open_ or any(buffers):
        for index in sorted(open_):
            if not buffers[index]:
                page = await anext(sources[index], None)
                if page is None:
                    open_.discard(index)
                else:
                    buffers[index] = [(entry_order(r[0]), index, r) for r in page]
        bound = min((buffers[i][-1][0] for i in open_), default=None)
        run: list[tuple[tuple[int, int], int, Record]] = []
        for index, buffer in enumerate(buffers):
            if bound is None or not buffer or buffer[-1][0] <= bound:
                run.extend(buffer)
                buffers[index] = []
            else:
                cut = bisect.bisect_right(buffer, bound, key=lambda item: item[0])
                run.extend(buffer[:cut])
                del buffer[:cut]
        run.sort(key=lambda item: (item[0], item[1]))
        if run:
            yield [record_ for _order, _index, record_ in run]


async def replay(
    redis: Redis,
    tags: Sequence[str],
    wanted: ReplayFilter,
    archive: Archive | None = None,
) -> AsyncIterator[Envelope]:
    """
    The merged events that match ``wanted``, oldest first.
    """
    async for run in merged(redis, tags, archive):
        for entry_id, raw in run:
            envelope = decode(raw, entry_id)
            if wanted.matches(envelope):
                yield envelope


class JsonLines:
    """
    Renders raw records as JSON lines without building events when the
    stored data already has the current version's fields.
    """

    def __init__(self) -> None:
        self.fields = {
            name: tuple(f.name for f in dataclasses.fields(cls))
            for name, cls in registered_types().items()
        }
        self.versions = {n: c.VERSION for n, c in registered_types().items()}
        self.second = -1
        self.prefix = ""

    def line(self, entry_id: str, raw: bytes) -> bytes:
        stored = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        type_, data = stored["t"], stored["d"]
        if stored["sv"] != self.versions.get(type_) or tuple(data) != self.fields.get(
            type_
        ):
            return orjson.dumps(record(decode(raw, entry_id)), default=str)
        at = stored["at"]
        row = {
            "id": entry_id,
            "at": self.iso(at),
            "type": type_,
            "version": stored["sv"],
            "aggregate": stored["a"],
            "sequence": stored["n"],
            "data": redacted(data),
        }
        return orjson.dumps(row, default=str)

    def iso(self, ms: int) -> str:
        second, rest = divmod(ms, 1000)
        if second != self.second:
            self.second, self.prefix = second, iso(second * 1000)[:-4]
        return f"{self.prefix}{rest:03d}Z"
