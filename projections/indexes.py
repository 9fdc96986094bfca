"""
The index keys derived from user documents: loginIds (email and username) and
applied user actions, each naming its user id.

The live path writes an index key *before* the event that needs it is
committed (a loginId reservation, an action about to be applied), so a key no
folded document holds may be a write about to land. A rebuild therefore never
deletes a stray key on the strength of its fold alone:

1. it restores missing entries with ``SET NX``, never overwriting a key that
   names another user (that user may have taken the value since the fold);
2. it reads each stray key's user id, waits ``grace`` seconds, then re-reads
   that user's live document: a document that now holds the key keeps it;
3. otherwise one Lua call deletes the key only if it still names the same
   user and, where Redis tracks it, nobody has read or written it during the
   grace period (``OBJECT IDLETIME``): a reservation made meanwhile, or a key
   a login just used, is left for the next rebuild.

A reservation is followed by its commit within one request, far less than
the grace period, so a key that survives step 2 and 3 is truly stray.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import Redis

from loginsvc import keys
from projections import keyscan
from projections.store import Doc, unpack

#: Seconds a stray index key must stay unchanged before a rebuild deletes it.
GRACE_S = 5.0

_DELETE_IF_IDLE = """
local ok, idle = pcall(redis.call, 'OBJECT', 'IDLETIME', KEYS[1])
-- A key deleted meanwhile has no idle time (nil, which Lua reads as false).
if ok and type(idle) == 'number' and idle < tonumber(ARGV[2]) then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


def index_entries(user_id: str, doc: Doc) -> list[tuple[str, str]]:
    """
    The index entries a user document holds: email, username, applied actions.
    """
    values = {v.lower() for v in (doc.get("email"), doc.get("username")) if v}
    found = [(keys.login_id_index(value), user_id) for value in sorted(values)]
    for action in doc.get("_actions", ()):
        found.append((keys.user_action_index(action["id"]), user_id))
    return found


def patterns() -> tuple[str, ...]:
    return keys.login_id_index_pattern(), keys.user_action_index_pattern()


async def index_keys(redis: Redis) -> AsyncIterator[str]:
    """
    Every loginId and user-action index key now.
    """
    for pattern in patterns():
        async for key in keyscan.names(redis.scan_iter(match=pattern, count=1000)):
            yield key


async def restore(
    redis: Redis, entries: Iterable[tuple[str, str]], batch: int, wanted: str
) -> None:
    """
    Write missing index entries; a key naming someone else is left alone.
    Each key is added to the set ``wanted``, for ``drop_stale``.
    """
    chunk: list[tuple[str, str]] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == batch:
            await _set_missing(redis, chunk, wanted)
            chunk = []
    await _set_missing(redis, chunk, wanted)


async def restore_from_documents(
    redis: Redis, named: str, marker: str, batch: int, wanted: str
) -> None:
    """
    ``restore`` the index entries of the live user documents whose keys the
    set ``named`` holds and start with ``marker``, ``batch`` at a time.
    """
    documents = keyscan.names(redis.sscan_iter(named, match=marker + "*", count=batch))
    async for names in keyscan.batches(documents, batch):
        async with redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.execute_command("HGET", name, "d")
            packed = await pipe.execute()
        entries = [
            entry
            for name, raw in zip(names, packed, strict=True)
            if raw
            for entry in index_entries(name.removeprefix(marker), unpack(raw))
        ]
        await restore(redis, entries, batch, wanted)


async def _set_missing(
    redis: Redis, entries: list[tuple[str, str]], wanted: str
) -> None:
    if entries:
        async with redis.pipeline(transaction=False) as pipe:
            for key, user_id in entries:
                pipe.execute_command("SET", key, user_id, "NX")
            pipe.execute_command("SADD", wanted, *(key for key, _uid in entries))
            await pipe.execute()


async def _values(redis: Redis, names: list[str]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.execute_command("GET", name)
        return list(await pipe.execute())


async def _live_docs(
    redis: Redis, user_ids: Iterable[str], partitions: int
) -> dict[str, Doc | None]:
    ids = sorted(set(user_ids))
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in ids:
            tag = keys.tag(keys.partition_of(user_id, partitions))
            pipe.execute_command("HGET", keys.user(tag, user_id), "d")
        raw = await pipe.execute()
    return {uid: unpack(d) if d else None for uid, d in zip(ids, raw, strict=True)}


async def drop_stale(
    redis: Redis,
    partitions: int,
    grace_s: float = GRACE_S,
    batch: int = 1000,
    wanted: str | None = None,
) -> int:
    """
    Delete index keys no user document holds, as the module docstring says:
    the keys not in the set ``wanted`` that ``restore`` filled (none without
    it) are the stray candidates.

    Only the candidates are held in memory, not every index key.
    """
    strays: list[str] = []
    async for names in keyscan.batches(index_keys(redis), batch):
        if wanted is not None:
            names = await keyscan.not_members(redis, wanted, names)
        strays += names
    deleted = 0
    for start in range(0, len(strays), batch):
        names = strays[start : start + batch]
        seen_at = time.monotonic()
        owners = {
            key: raw.decode()
            for key, raw in zip(names, await _values(redis, names), strict=True)
            if raw is not None
        }
        await asyncio.sleep(max(0.0, seen_at + grace_s - time.monotonic()))
        docs = await _live_docs(redis, owners.values(), partitions)
        for key, user_id in owners.items():
            doc = docs[user_id]
            if doc is not None and (key, user_id) in index_entries(user_id, doc):
                continue
            # IDLETIME counts whole seconds, from our own read above.
            idle = max(int(grace_s) - 1, 0)
            done = await redis.eval(_DELETE_IF_IDLE, 1, key, user_id, idle)
            deleted += int(done)
    return deleted
