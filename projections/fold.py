"""
Folding one partition's stream: aggregate documents by the live path's
``evolve`` functions and side writes by its writers, into an in-memory
keyspace that ``rebuild`` writes out and ``verify`` compares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from events import catalog as _events  # noqa: F401  (registers every event type)
from events.codec import Envelope, decode
from events.store import ALLOWED, EventStore, Op
from loginsvc import keys
from projections import indexes
from projections import system as system_projection
from projections import user as user_projection
from projections.catalog import side_ops
from projections.model import Coalesced, Keyspace, as_bytes
from projections.store import Doc, pack

Evolve = Callable[[Doc | None, Envelope], Doc | None]
Clock = Callable[[], int]
Progress = Callable[[str, int], None]

#: Aggregates that keep no document: their events only have side writes.
NO_DOCUMENT = frozenset({"login", "attempt"})
BATCH = 10_000


class RebuildError(Exception):
    """
    A rebuild or verify could not run; the message says why.
    """


class RebuildRunning(RebuildError):
    """
    Another rebuild holds the lock.
    """


def document_target(tag: str, envelope: Envelope) -> tuple[str, Evolve] | None:
    """
    The hash an event's aggregate document lives in, and the fold that makes it.
    """
    kind, _, ident = envelope.aggregate.partition(":")
    if envelope.sequence == 0 or kind in NO_DOCUMENT:
        return None
    if tag == keys.SYSTEM_TAG:
        return keys.aggregate(tag, kind, ident), system_projection.evolve
    if kind == "user":
        return keys.user(tag, ident), user_projection.evolve
    raise RebuildError(
        f"No projection is known for aggregate kind '{kind}' in partition '{tag}'."
    )


@dataclass
class TagFold:
    """
    The per-aggregate state of one tag while its stream is folded.
    """

    tag: str
    now_ms: int
    docs: dict[str, tuple[int, Doc | None]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    last_id: str = "0-0"
    count: int = 0
    #: Each aggregate's target, found once per aggregate rather than per event.
    targets: dict[str, tuple[str, Evolve] | None] = field(default_factory=dict)

    def target(self, envelope: Envelope) -> tuple[str, Evolve] | None:
        """
        The document an event folds into, if any.
        """
        if not envelope.sequence:
            return None
        aggregate = envelope.aggregate
        if aggregate in self.targets:
            return self.targets[aggregate]
        found = self.targets[aggregate] = document_target(self.tag, envelope)
        return found

    def apply(self, envelope: Envelope) -> None:
        """
        Fold one event into its aggregate's document.
        """
        target = self.target(envelope)
        if target is not None:
            key, evolve = target
            doc = self.docs.get(key, (0, None))[1]
            self.docs[key] = (envelope.sequence, evolve(doc, envelope))
            self.dirty.add(key)
        if envelope.entry_id:
            self.last_id = envelope.entry_id
        self.count += 1

    def index_entries(self) -> Iterable[tuple[str, str]]:
        """
        The derived index entries of every user document held.
        """
        marker = keys.user(self.tag, "")
        for key, (_version, doc) in self.docs.items():
            if doc is not None and key.startswith(marker):
                yield from indexes.index_entries(key.removeprefix(marker), doc)


def document_fields(version: int, doc: Doc | None) -> dict[str, Any]:
    return {"v": version} if doc is None else {"v": version, "d": pack(doc)}


async def events_after(
    store: EventStore, tag: str, after: str = "-", batch: int = BATCH
) -> AsyncIterator[list[Envelope]]:
    """
    A tag's events after the entry id ``after``, page by page.
    """
    while True:
        page = await store.read(tag, after, batch)
        if page:
            yield page
            after = page[-1].entry_id
        if len(page) < batch:
            return


async def recorded_partitions(redis: Redis) -> int | None:
    """
    The partition count the store was created with, if one is recorded.
    """
    raw = await redis.get(keys.partition_count())
    if raw is None:
        return None
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if not text.isdigit() or int(text) < 1:
        raise RebuildError(
            f"'{keys.partition_count()}' holds {text[:20]!r}, not a partition "
            "count of 1 or more."
        )
    return int(text)


def fold_page(
    fold: TagFold,
    space: Keyspace,
    page: list[Envelope],
    now: int,
    ops: Iterable[Op] | None = None,
) -> None:
    """
    Fold a page of events: documents into ``fold``, side writes into ``space``.

    ``ops`` are the page's side writes if the caller has them already.
    """
    fold.now_ms = now
    apply = fold.apply
    for envelope in page:
        apply(envelope)
    prefix = keys.projection_pattern(fold.tag)[:-1]
    writes, docs = Coalesced(space, now), fold.docs
    for op in side_ops(fold.tag, page, now) if ops is None else ops:
        key = op.key
        if op.command not in ALLOWED or not key.startswith(prefix) or key in docs:
            writes.flush()
            raise RebuildError(
                f"Projection write '{op.command}' to '{op.key}' cannot be "
                f"rebuilt in partition '{fold.tag}'."
            )
        writes.run(op)
    writes.flush()


def fold_records(
    fold: TagFold, space: Keyspace, page: list[tuple[str, bytes]], now: int
) -> None:
    """
    Decode and fold a page of ``(entry id, encoded envelope)`` records.
    """
    fold_page(fold, space, [decode(raw, entry_id) for entry_id, raw in page], now)


def place_documents(fold: TagFold, space: Keyspace) -> None:
    """
    Put the changed aggregate hashes (``v`` and ``d``) into ``space``.
    """
    for key in fold.dirty:
        version, doc = fold.docs[key]
        current = space.create(key, "hash", fold.now_ms, {})
        current.pop(b"d", None)
        current.update(
            {k.encode(): as_bytes(v) for k, v in document_fields(version, doc).items()}
        )
        space.dirty.add(key)
    fold.dirty.clear()
