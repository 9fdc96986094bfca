"""
Keeping a partition's fold within a memory budget while it is rebuilt.

A fold would otherwise hold every key and document it builds until the swap,
so its memory would grow with the users of a partition. ``Spill.trim`` runs
after each slice of events; once the fold holds more than ``HOLD_ITEMS``
items (a key counts one plus its members, a decoded document ``DOC_ITEMS``):

1. it packs every document into its hash, as the swap would, and drops the
   decoded copy (a tenth of the size); the next event of that aggregate
   unpacks it again;
2. if that is not enough, it writes every changed key to its staging twin,
   as it does before the swap anyway, and forgets keys, those the latest
   slices left alone first, until it holds half of the budget.

``Spill.reload`` runs before a slice is folded: the keys the slice and its
side writes touch that the fold forgot are read back from their staging
twins, value and remaining TTL, in one round trip per ``STAGE_KEYS``. The
twin is the truth for every forgotten key; a key deleted in memory stays
marked dirty, and is never read back, until its twin is deleted too. A
forgotten key that a slice only adds to (HINCRBY, a positive PEXPIRE) is not
read back: the slice's increments are added to its twin. Once a
fold packed its documents, the rebuild restores the index keys from the
swapped documents in Redis rather than from the fold.

A partition that fits the budget (the bench's 625 users each take about 140
items) never packs or spills. One that does not costs a round trip per slice
and the packing; it does not grow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis

from events.codec import Envelope
from events.store import Op
from loginsvc import keys
from projections.fold import TagFold, place_documents
from projections.model import Keyspace, Value
from projections.store import unpack

#: Items a fold holds before it packs and spills (about 18 MB of objects).
HOLD_ITEMS = 120_000
#: A decoded document weighs about as much as this many list or hash members.
DOC_ITEMS = 30
#: What one item stands for: a member with its share of the container.
ITEM_BYTES = 150
#: Keys written to staging per pipeline, and read back per call. A pipeline
#: holds every command (whole lists and hashes) and their packed copies until
#: it runs: 1,000 keys of the bench's log took 30 MB at once, 200 take 13 MB.
STAGE_KEYS = 200
#: Arguments queued in one staging pipeline at most, whatever the keys hold.
STAGE_ARGS = 20_000

_READ = """
local found = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  local value = false
  if kind == 'string' then
    value = redis.call('GET', key)
  elseif kind == 'hash' then
    value = redis.call('HGETALL', key)
  elseif kind == 'list' then
    value = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'set' then
    value = redis.call('SMEMBERS', key)
  elseif kind == 'zset' then
    value = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  end
  found[i] = {kind, redis.call('PTTL', key), value}
end
return found
"""


async def stage(
    redis: Redis, space: Keyspace, now: int, staged: str, batch: int
) -> None:
    """
    Write the keys changed since the last call to their staging twins, and
    add their names to the set ``staged`` (``keys.staged_keys``).
    """
    space.expire_all(now)
    dirty = sorted(space.dirty)
    space.dirty.clear()
    step = min(batch, STAGE_KEYS)
    for start in range(0, len(dirty), step):
        async with redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("SADD", staged, *dirty[start : start + step])
            queued = 0
            for key in dirty[start : start + step]:
                twin = keys.staging(key)
                pipe.execute_command("DEL", twin)
                for command in space.restore_commands(key, twin):
                    pipe.execute_command(*command)
                    queued += len(command)
                    if queued >= STAGE_ARGS:
                        # A big hash or list goes out in parts, in order.
                        await pipe.execute()
                        queued = 0
                if key in space.expires and key in space.values:
                    pipe.execute_command("PEXPIRE", twin, space.expires[key] - now)
            await pipe.execute()


def _weight(value: Value) -> int:
    if isinstance(value, bytes):
        return 1 + len(value) // ITEM_BYTES
    if isinstance(value, dict) and b"d" in value:
        # A packed document: its one field is far larger than a member.
        return 1 + len(value) + len(value[b"d"]) // ITEM_BYTES
    return 1 + len(value)


def _as_value(kind: str, raw: Any) -> Value:
    """
    A staging twin's reply as the keyspace model holds that kind of value.
    """
    if kind == "string":
        return raw
    if kind == "hash":
        return dict(_pairs(raw))
    if kind == "list":
        return list(raw)
    if kind == "set":
        return set(raw)
    return {member: float(score) for member, score in _pairs(raw)}


def _pairs(flat: list[Any]) -> zip[tuple[Any, Any]]:
    return zip(flat[::2], flat[1::2], strict=True)


class Spill:
    """
    Holds one tag's fold within ``hold`` items (see the module docstring).
    """

    def __init__(
        self,
        redis: Redis,
        fold: TagFold,
        space: Keyspace,
        staged: str,
        hold: int = HOLD_ITEMS,
        batch: int = STAGE_KEYS,
    ) -> None:
        self.redis = redis
        self.fold = fold
        self.space = space
        self.staged = staged
        self.hold = hold
        self.batch = batch
        #: Whether documents were packed away, so a page may touch one.
        self.packed = False
        #: Keys forgotten so far (one key may be forgotten more than once).
        self.spilled = 0
        #: Forgotten keys this slice only adds to: held as their increments,
        #: which ``trim`` adds to the twins (see ``_increments_only``).
        self.deltas: set[str] = set()

    def _items(self) -> int:
        values = self.space.values.values()
        return sum(_weight(v) for _kind, v in values) + DOC_ITEMS * len(self.fold.docs)

    async def reload(self, page: list[Envelope], ops: Sequence[Op], now: int) -> None:
        """
        Bring back the documents and keys ``page`` and its side writes touch.
        """
        if not self.packed:
            return
        fold, space = self.fold, self.space
        documents = set()
        for envelope in page:
            target = fold.target(envelope)
            if target is not None and target[0] not in fold.docs:
                documents.add(target[0])
        for key in documents & space.values.keys():
            self._unpack(key, space.values[key][1])
        missing = [
            key
            for key in documents.union(op.key for op in ops)
            if key not in space.values
            and key not in fold.docs
            and key not in space.dirty
        ]
        self.deltas = _increments_only(ops, missing) - documents
        missing = sorted(key for key in missing if key not in self.deltas)
        step = min(self.batch, STAGE_KEYS)
        for start in range(0, len(missing), step):
            names = missing[start : start + step]
            twins = [keys.staging(key) for key in names]
            replies = await self.redis.eval(_READ, len(twins), *twins)
            for key, reply in zip(names, replies, strict=True):
                self._restore(key, reply, now, key in documents)

    def _restore(self, key: str, reply: list[Any], now: int, document: bool) -> None:
        kind = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if kind == "none":
            return
        ttl, raw = int(reply[1]), reply[2]
        value = _as_value(kind, raw)
        self.space.values[key] = (kind, value)
        if ttl >= 0:
            self.space.expires[key] = now + ttl
        if document:
            self._unpack(key, value)

    def _unpack(self, key: str, placed: dict[bytes, bytes]) -> None:
        """
        Hold the document that ``place_documents`` put in ``placed`` again.
        """
        # Side writes never touch a document's hash (``fold_page``).
        doc = unpack(placed[b"d"]) if b"d" in placed else None
        self.fold.docs[key] = (int(placed[b"v"]), doc)

    async def trim(self, now: int) -> None:
        """
        Add the slice's increments to their twins; then, if the fold holds
        more than ``hold`` items, pack its documents away, and if it still
        does, stage keys and forget them down to half of ``hold``.
        """
        await self._add_deltas(now)
        fold, space = self.fold, self.space
        held = self._items()
        if held <= self.hold:
            return
        place_documents(fold, space)
        fold.docs.clear()
        fold.targets.clear()
        self.packed = True
        held = self._items()
        if held <= self.hold:
            return
        recent = set(space.dirty)
        await stage(self.redis, space, now, self.staged, self.batch)
        # The least recently touched first: keys the pages since the last
        # trim left alone, then the rest in key order (older days first).
        for key in sorted(space.values, key=lambda k: (k in recent, k)):
            if held <= self.hold // 2:
                break
            held -= _weight(space.values[key][1])
            space.delete(key)
            self.spilled += 1

    async def _add_deltas(self, now: int) -> None:
        """
        HINCRBY each increment held for a forgotten key into its twin (and
        its TTL), then forget the increments: a big counter hash (a busy
        day's ``loginday``) is then never read back nor written whole.
        """
        space, deltas = self.space, sorted(self.deltas)
        self.deltas = set()
        space.expire_all(now)
        step = min(self.batch, STAGE_KEYS)
        for start in range(0, len(deltas), step):
            async with self.redis.pipeline(transaction=False) as pipe:
                chunk = deltas[start : start + step]
                pipe.execute_command("SADD", self.staged, *chunk)
                for key in chunk:
                    twin, found = keys.staging(key), space.values.get(key)
                    for field, count in found[1].items() if found else ():
                        pipe.execute_command("HINCRBY", twin, field, count)
                    if found and key in space.expires:
                        ttl = space.expires[key] - now
                        pipe.execute_command("PEXPIRE", twin, ttl)
                    space.delete(key)
                    space.dirty.discard(key)
                await pipe.execute()


def _increments_only(ops: Iterable[Op], names: list[str]) -> set[str]:
    """
    The ``names`` that ``ops`` only add to: HINCRBY, and positive PEXPIRE.
    """
    found = dict.fromkeys(names, True)
    for op in ops:
        if op.key in found:
            adds = (op.command == "HINCRBY" and len(op.args) == 2) or (
                op.command == "PEXPIRE" and len(op.args) == 1 and int(op.args[0]) > 0
            )
            found[op.key] = found[op.key] and adds
    return {key for key, adds in found.items() if adds}
