"""
Verifying projections: fold the streams in memory and compare every
projection and index key with what Redis holds, changing nothing.

Differences name the key and describe values by type, length and a SHA-256
prefix, never by content, since documents carry password hashes.

TODO(scale): unlike ``rebuild``, verify holds each partition's whole fold,
and the index entries of every user, in one process: its memory grows with
the users (about 6 KB each), and it folds one partition after the other.
Spilling has nowhere to write here, since verify must change nothing; a
verify of a large store would compare partition by partition in slices of
keys, folding each slice's aggregates only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from loginsvc import keys
from projections.archive import Archive
from projections.fold import (
    BATCH,
    Clock,
    Progress,
    TagFold,
    fold_records,
    place_documents,
)
from projections.indexes import index_keys
from projections.model import Keyspace, Value
from projections.rebuild import live_keys
from projections.source import pages

#: How far a TTL may drift between the fold and the read, in ms.
TTL_DRIFT_MS = 5_000


@dataclass(frozen=True, slots=True)
class Difference:
    """
    One key whose stored value is not the fold of the events.
    """

    key: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.key}: expected {self.expected} found {self.found}"


@dataclass
class VerifyReport:
    """
    How many events were folded and what differed.
    """

    events: int = 0
    keys: int = 0
    differences: list[Difference] = field(default_factory=list)


def describe(kind: str, value: Value) -> str:
    """
    A value as type, size and digest, so no secret is ever printed.
    """
    if value is None:
        return "nothing"
    digest = hashlib.sha256(repr(canonical(kind, value)).encode()).hexdigest()[:12]
    size = len(value)
    unit = "bytes" if kind == "string" else "items"
    return f"{kind}[{size} {unit}] sha256:{digest}"


def canonical(kind: str, value: Value) -> Any:
    if kind in ("hash", "zset"):
        return sorted(value.items())
    if kind == "set":
        return sorted(value)
    return value


async def fold_tag(
    redis: Redis,
    tag: str,
    clock: Clock,
    progress: Progress | None = None,
    archive: Archive | None = None,
) -> tuple[TagFold, Keyspace]:
    """
    A tag's folded aggregates and the keyspace its projection writes make.
    """
    fold, space = TagFold(tag, clock()), Keyspace()
    async for page in pages(redis, tag, archive, "-", BATCH):
        fold_records(fold, space, page, clock())
        if progress is not None:
            progress(tag, len(page))
    place_documents(fold, space)
    space.expire_all(clock())
    return fold, space


async def read_live(redis: Redis, key: str) -> tuple[str, Value, int]:
    """
    A key's type, value and PTTL as Redis holds them now.
    """
    kind = await redis.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    readers: dict[str, Callable[[], Any]] = {
        "string": lambda: redis.get(key),
        "hash": lambda: redis.hgetall(key),
        "set": lambda: redis.smembers(key),
        "list": lambda: redis.lrange(key, 0, -1),
        "zset": lambda: redis.zrange(key, 0, -1, withscores=True),
    }
    if kind not in readers:
        return kind, None, -2
    value = await readers[kind]()
    if kind == "zset":
        value = {member: float(score) for member, score in value}
    return kind, value, int(await redis.pttl(key))


async def compare_tag(
    redis: Redis, tag: str, space: Keyspace, now_ms: int
) -> list[Difference]:
    """
    Every difference between a folded keyspace and a tag's live keys.
    """
    found: list[Difference] = []
    for key in sorted(await live_keys(redis, tag) | set(space.values)):
        kind, value = space.values.get(key, ("none", None))
        live_kind, live_value, pttl = await read_live(redis, key)
        if (kind, canonical(kind, value)) != (
            live_kind,
            canonical(live_kind, live_value),
        ):
            expected, actual = describe(kind, value), describe(live_kind, live_value)
            found.append(Difference(key, expected, actual))
            continue
        expires = space.expires.get(key)
        live_expires = None if pttl < 0 else now_ms + pttl
        if _ttl_differs(expires, live_expires):
            found.append(
                Difference(key, _ttl(expires, now_ms), _ttl(live_expires, now_ms))
            )
    return found


def _ttl_differs(expected: int | None, actual: int | None) -> bool:
    if expected is None or actual is None:
        return expected != actual
    return abs(expected - actual) > TTL_DRIFT_MS


def _ttl(expires: int | None, now_ms: int) -> str:
    return "no TTL" if expires is None else f"TTL {(expires - now_ms) / 1000:.1f}s"


async def compare_index(
    redis: Redis, wanted: dict[str, str], seen: set[str]
) -> list[Difference]:
    """
    Differences in one tag's index entries; ``seen`` collects the keys.
    """
    found: list[Difference] = []
    for key, user_id in sorted(wanted.items()):
        seen.add(key)
        live = await redis.get(key)
        if live != user_id.encode():
            shown = "nothing" if live is None else f"user {live!r}"
            found.append(Difference(key, f"user {user_id}", shown))
    return found


async def stray_index_keys(redis: Redis, seen: set[str]) -> list[Difference]:
    found: list[Difference] = []
    async for key in index_keys(redis):
        if key not in seen:
            found.append(Difference(key, "nothing", "an index entry"))
    return found


async def verify(
    redis: Redis,
    partitions: int,
    clock: Clock,
    progress: Progress | None = None,
    archive: Archive | None = None,
) -> VerifyReport:
    """
    Compare every projection and index key with the fold of the events.
    """
    report = VerifyReport()
    seen: set[str] = set()
    for tag in keys.all_tags(partitions):
        fold, space = await fold_tag(redis, tag, clock, progress, archive)
        report.events += fold.count
        report.keys += len(space.values)
        report.differences += await compare_tag(redis, tag, space, clock())
        wanted = dict(fold.index_entries())
        report.differences += await compare_index(redis, wanted, seen)
    report.differences += await stray_index_keys(redis, seen)
    return report
