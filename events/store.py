"""
The event store: the only module that appends to or reads the streams.

An append is one Lua call: it checks the aggregate's expected version, XADDs
each event to the partition stream and applies the projection writes it is
given, so an event and its projection land together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ResponseError

from events.codec import Envelope, decode, encode
from loginsvc import keys
from loginsvc.errors import ConcurrencyConflict

#: Any version: for events that commute and belong to no versioned aggregate.
ANY_VERSION = -1

Arg = str | bytes | int


@dataclass(frozen=True, slots=True)
class Op:
    """
    One projection write, run inside the append: a Redis command on one key.
    """

    command: str
    key: str
    args: tuple[Arg, ...] = ()


#: The commands a projection write may use, with the key type each leaves
#: (``none`` after DEL); anything else is refused in Lua.
ALLOWED = {
    "HSET": "hash",
    "HDEL": "hash",
    "DEL": "none",
    "SET": "string",
    "PEXPIRE": "",  # any type, unchanged
    "HINCRBY": "hash",
    "SADD": "set",
    "SREM": "set",
    "LPUSH": "list",
    "LTRIM": "list",
    "ZADD": "zset",
    "ZREM": "zset",
    "ZREMRANGEBYRANK": "zset",
}

_APPEND = """
local unpack = unpack or table.unpack
local expected = ARGV[1]
local current = 0
if expected ~= '-1' then
  current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
  if current ~= tonumber(expected) then
    return redis.error_reply('CONFLICT version ' .. current)
  end
end
local count = tonumber(ARGV[2])
local allowed = {__ALLOWED__}
local kinds = {__KINDS__}
local types = {}
local i = 3 + count
while i <= #ARGV do
  if not allowed[ARGV[i]] then
    return redis.error_reply('DENIED ' .. ARGV[i])
  end
  -- Redis keeps a script's earlier writes when a later one fails, so a write
  -- that would meet a key of the wrong type is refused before the first XADD.
  local key = KEYS[tonumber(ARGV[i + 1])]
  local want = kinds[ARGV[i]]
  if want ~= '' then
    local have = types[key] or redis.call('TYPE', key)['ok']
    if want ~= 'none' and want ~= 'string' and have ~= 'none' and have ~= want then
      return redis.error_reply('WRONGTYPE ' .. ARGV[i] .. ' on a ' .. have)
    end
    types[key] = want
  end
  i = i + 3 + tonumber(ARGV[i + 2])
end
local ids = {}
i = 3
for n = 1, count do
  ids[n] = redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
  i = i + 1
end
if expected ~= '-1' then
  redis.call('HSET', KEYS[1], 'v', current + count)
end
while i <= #ARGV do
  local key = KEYS[tonumber(ARGV[i + 1])]
  local nargs = tonumber(ARGV[i + 2])
  local args = {}
  for j = 1, nargs do
    args[j] = ARGV[i + 2 + j]
  end
  redis.call(ARGV[i], key, unpack(args))
  i = i + 3 + nargs
end
return ids
""".replace("__ALLOWED__", ", ".join(f"{c}=true" for c in ALLOWED)).replace(
    "__KINDS__", ", ".join(f"{c}='{kind}'" for c, kind in ALLOWED.items())
)


class CrossSlotWrite(ValueError):
    """
    A projection write names a key outside the stream's hash slot.
    """


class EventStore:
    """
    Appends events with their projection writes, and reads streams back.
    """

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self._redis = redis
        self._append = redis.register_script(_APPEND)

    async def append(
        self,
        tag: str,
        aggregate_key: str | None,
        expected_version: int,
        envelopes: Sequence[Envelope],
        ops: Sequence[Op] = (),
    ) -> list[str]:
        """
        Append atomically; raise ``ConcurrencyConflict`` if the version moved.
        """
        stream = keys.event_stream(tag)
        key_list = [aggregate_key or stream, stream]
        positions: dict[str, int] = {}
        slot = key_slot(stream.encode())
        for key in (aggregate_key, *(op.key for op in ops)):
            if key is not None and key_slot(key.encode()) != slot:
                raise CrossSlotWrite(f"'{key}' is not in the slot of '{stream}'.")
        argv: list[Arg] = [expected_version, len(envelopes)]
        argv.extend(encode(e) for e in envelopes)
        for op in ops:
            if op.key not in positions:
                key_list.append(op.key)
                positions[op.key] = len(key_list)
            argv.extend((op.command, positions[op.key], len(op.args), *op.args))
        try:
            ids = await self._append(keys=key_list, args=argv)
        except ResponseError as error:
            if str(error).startswith("CONFLICT"):
                raise ConcurrencyConflict(str(error)) from None
            raise
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def read(
        self, tag: str, after: str = "-", count: int = 1000
    ) -> list[Envelope]:
        """
        Up to ``count`` events of one stream after the entry id ``after``.
        """
        start = "-" if after in ("-", "0", "0-0") else f"({after}"
        entries: Any = await self._redis.xrange(
            keys.event_stream(tag), min=start, count=count
        )
        return [_decode_entry(entry_id, fields) for entry_id, fields in entries]

    async def iterate(self, tag: str, batch: int = 2000) -> AsyncIterator[Envelope]:
        after = "-"
        while True:
            page = await self.read(tag, after, batch)
            for envelope in page:
                yield envelope
            if len(page) < batch:
                return
            after = page[-1].entry_id

    async def tail(
        self, tag: str, after: str, block_ms: int, count: int = 500
    ) -> list[Envelope]:
        """
        Wait up to ``block_ms`` for events after ``after``; empty on timeout.
        """
        stream = keys.event_stream(tag)
        reply: Any = await self._redis.xread(
            {stream: after}, count=count, block=block_ms
        )
        found: list[Envelope] = []
        for _name, entries in reply or []:
            found.extend(_decode_entry(i, f) for i, f in entries)
        return found


def entry_order(entry_id: str) -> tuple[int, int]:
    """
    A stream entry id as a sortable pair; ``"0-0"`` sorts first.
    """
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)


def later(a: str, b: str) -> str:
    return a if entry_order(a) >= entry_order(b) else b


def _decode_entry(entry_id: Any, fields: dict[Any, Any]) -> Envelope:
    raw: bytes = fields[b"e"] if b"e" in fields else fields["e"]
    ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return decode(raw, ident)
