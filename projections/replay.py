"""
Replaying the event log: every partition's stream merged into one order by
entry id, filtered, and rendered without secrets.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from events import catalog as _events  # noqa: F401  (registers every event type)
from events.codec import Envelope, event_data
from events.store import EventStore, entry_order
from projections.fold import BATCH, events_after

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
        return {
            k: redacted(v) for k, v in value.items() if not SECRET_FIELD.search(str(k))
        }
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


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
    return json.dumps(record(envelope), separators=(",", ":"), default=str)


def as_row(envelope: Envelope) -> str:
    data = record(envelope)["data"]
    detail = " ".join(f"{k}={v}" for k, v in data.items() if v not in (None, [], {}))
    return f"{iso(envelope.at)}  {envelope.type:<22} {envelope.aggregate:<44} {detail}"


async def merged(
    redis: Redis, tags: Sequence[str], batch: int = BATCH
) -> AsyncIterator[Envelope]:
    """
    Every tag's events in one order: by entry id, ties broken by tag.
    """
    store = EventStore(redis)
    sources = [_each(events_after(store, tag, "-", batch)) for tag in tags]
    heap: list[tuple[tuple[int, int], int, Envelope]] = []
    for index, source in enumerate(sources):
        await _push(heap, index, source)
    while heap:
        _order, index, envelope = heapq.heappop(heap)
        yield envelope
        await _push(heap, index, sources[index])


async def _each(pages: AsyncIterator[list[Envelope]]) -> AsyncIterator[Envelope]:
    async for page in pages:
        for envelope in page:
            yield envelope


async def _push(
    heap: list[tuple[tuple[int, int], int, Envelope]],
    index: int,
    source: AsyncIterator[Envelope],
) -> None:
    envelope = await anext(source, None)
    if envelope is not None:
        heapq.heappush(heap, (entry_order(envelope.entry_id), index, envelope))


async def replay(
    redis: Redis, tags: Sequence[str], wanted: ReplayFilter
) -> AsyncIterator[Envelope]:
    """
    The merged events that match ``wanted``, oldest first.
    """
    async for envelope in merged(redis, tags):
        if wanted.matches(envelope):
            yield envelope
