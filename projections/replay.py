"""
Replaying the event log: every partition's stream merged into one order by
entry id, filtered, and rendered without secrets.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import msgpack
import orjson
from redis.asyncio import Redis

from events import catalog as _events  # noqa: F401  (registers every event type)
from events.codec import Envelope, decode, event_data, registered_types
from projections.archive import Archive
from projections.source import Record, pages

#: Records buffered per partition while merging: every partition holds one
#: page and fetches the next, so this bounds replay's memory (10,000 reached
#: 320 MB over 17 tags with one page each).
PAGE = 2_000

#: Field names whose values are never printed, even as hashes or digests.
SECRET_FIELD = re.compile(r"password|secret|hash|digest|private_?key", re.IGNORECASE)

#: Aggregates named by a digest of a secret (an API key's SHA-256): printed
#: with the digest left out, as ``apikey:<digest>``.
DIGEST_NAMED = ("apikey:",)

#: Value types printed as they are: nothing inside them can be redacted.
PLAIN = frozenset({str, int, float, bool, type(None)})

#: ``"000Z"`` to ``"999Z"``: how an ISO time ends, by millisecond.
_MILLIS = tuple(f"{milli:03d}Z" for milli in range(1000))


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
            k: v if type(v) in PLAIN else redacted(v)
            for k, v in value.items()
            if not _secret(k)
        }
    if isinstance(value, list | tuple):
        return [v if type(v) in PLAIN else redacted(v) for v in value]
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
        "aggregate": shown_aggregate(envelope.aggregate),
        "sequence": envelope.sequence,
        "data": redacted(event_data(envelope.event)),
    }


def shown_aggregate(aggregate: str) -> str:
    """
    An aggregate's name as replay prints it: a digest-named one without it.
    """
    if aggregate.startswith(DIGEST_NAMED):
        return aggregate.partition(":")[0] + ":<digest>"
    return aggregate


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_json(envelope: Envelope) -> str:
    return orjson.dumps(record(envelope), default=str).decode()


def as_row(envelope: Envelope) -> str:
    data = record(envelope)["data"]
    detail = " ".join(f"{k}={v}" for k, v in data.items() if v not in (None, [], {}))
    aggregate = shown_aggregate(envelope.aggregate)
    return f"{iso(envelope.at)}  {envelope.type:<22} {aggregate:<44} {detail}"


async def merged(
    redis: Redis,
    tags: Sequence[str],
    archive: Archive | None = None,
    batch: int = PAGE,
) -> AsyncGenerator[list[Record], None]:
    """
    Every tag's records in one order, a run at a time: by entry id, ties
    broken by tag.

    Each tag buffers one page and has its next one on the way; whatever is no
    later than the earliest last entry of the buffers that may still grow is
    sorted and handed out.
    """
    sources = [pages(redis, tag, archive, "-", batch) for tag in tags]
    ahead = {index: _next(source) for index, source in enumerate(sources)}
    buffers: list[list[tuple[int, Record]]] = [[] for _ in tags]
    try:
        while ahead or any(buffers):
            for index in sorted(ahead):
                if not buffers[index]:
                    page = await ahead.pop(index)
                    if page is not None:
                        buffers[index] = _keyed(page, index, len(tags))
                        ahead[index] = _next(sources[index])
            # The next pages' requests go out before this run is rendered, so
            # Redis prepares them meanwhile.
            await asyncio.sleep(0)
            run = _run(buffers, ahead.keys())
            if run:
                yield run
    finally:
        for fetch in ahead.values():
            fetch.cancel()
        await asyncio.gather(*ahead.values(), return_exceptions=True)


def _next(source: AsyncIterator[list[Record]]) -> asyncio.Future[list[Record] | None]:
    return asyncio.ensure_future(anext(source, None))


def _run(
    buffers: list[list[tuple[int, Record]]], growing: Iterable[int]
) -> list[Record]:
    """
    Take out every buffered record no later than the last entry of any buffer
    that may still grow, in order.
    """
    bound = min((buffers[index][-1][0] for index in growing), default=None)
    run: list[tuple[int, Record]] = []
    for index, buffer in enumerate(buffers):
        if bound is None or not buffer or buffer[-1][0] <= bound:
            run.extend(buffer)
            buffers[index] = []
        else:
            cut = bisect.bisect_right(buffer, bound, key=itemgetter(0))
            run.extend(buffer[:cut])
            del buffer[:cut]
    # The keys are unique, so the records themselves are never compared.
    run.sort()
    return [record_ for _key, record_ in run]


def _keyed(page: list[Record], index: int, width: int) -> list[tuple[int, Record]]:
    """
    A tag's records, each with one int that sorts as ``(entry_order, index)``.

    Both parts of an entry id are 64-bit numbers, so ``ms << 64 | seq`` orders
    ids exactly. One int compares much faster than nested tuples (issue #5).
    """
    return [
        ((int(ms or 0) << 64 | int(seq or 0)) * width + index, record_)
        for record_ in page
        for ms, _, seq in [record_[0].partition("-")]
    ]


async def replay(
    redis: Redis,
    tags: Sequence[str],
    wanted: ReplayFilter,
    archive: Archive | None = None,
) -> AsyncIterator[Envelope]:
    """
    The merged events that match ``wanted``, oldest first.
    """
    async with aclosing(merged(redis, tags, archive)) as runs:
        async for run in runs:
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
        # Per type: its version, its fields in order, and those never printed.
        self.plans: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {}
        for name, cls in registered_types().items():
            fields = tuple(f.name for f in dataclasses.fields(cls))
            secret = tuple(field for field in fields if _secret(field))
            self.plans[name] = (cls.VERSION, fields, secret)
        self.second = -1
        self.prefix = ""

    def lines(self, run: list[Record]) -> bytes:
        """
        A run's records as JSON lines, each ending in a newline.
        """
        # Each line is copied at once: holding orjson's own buffers for a
        # whole run doubled the peak RSS.
        line = self.line
        return b"".join([line(entry_id, raw) + b"\n" for entry_id, raw in run])

    def line(self, entry_id: str, raw: bytes) -> bytes:
        """
        One record as JSON, without the newline.
        """
        stored = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        type_, version, data = stored["t"], stored["sv"], stored["d"]
        plan = self.plans.get(type_)
        if plan is None or version != plan[0] or tuple(data) != plan[1]:
            return orjson.dumps(record(decode(raw, entry_id)), default=str)
        for name in plan[2]:
            del data[name]
        # Only containers and bytes can hold anything to redact.
        if not PLAIN.issuperset(map(type, data.values())):
            data = redacted(data)
        row = {
            "id": entry_id,
            "at": self.iso(stored["at"]),
            "type": type_,
            "version": version,
            "aggregate": shown_aggregate(stored["a"]),
            "sequence": stored["n"],
            "data": data,
        }
        return orjson.dumps(row, default=str)

    def iso(self, ms: int) -> str:
        second, milli = divmod(ms, 1000)
        if second != self.second:
            self.second, self.prefix = second, iso(second * 1000)[:-4]
        return self.prefix + _MILLIS[milli]
