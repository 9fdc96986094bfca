"""
An in-memory model of the Redis commands projection writes use, so ``verify``
can fold the streams without writing anything.

It is a second, independent reading of those commands: the rebuild runs them
on Redis itself, and the tests hold both to the same result.
"""

from __future__ import annotations

from typing import Any

from events.store import Arg, Op

#: One key's value: bytes, dict (hash), set, list, or dict member -> score (zset).
Value = Any


class UnsupportedWrite(Exception):
    """
    A projection write uses a command or option the model does not know.
    """


def as_bytes(arg: Arg | float) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, float):
        return repr(arg).encode()
    return str(arg).encode()


class Keyspace:
    """
    Keys with their typed values and absolute expiry times (ms).
    """

    def __init__(self) -> None:
        self.values: dict[str, tuple[str, Value]] = {}
        self.expires: dict[str, int] = {}
        #: Keys written since the caller last cleared this.
        self.dirty: set[str] = set()

    def get(self, key: str, kind: str, now_ms: int) -> Value | None:
        if key in self.expires and self.expires[key] <= now_ms:
            self.delete(key)
        found = self.values.get(key)
        if found is None:
            return None
        if found[0] != kind:
            raise UnsupportedWrite(f"'{key}' holds a {found[0]}, not a {kind}.")
        return found[1]

    def create(self, key: str, kind: str, now_ms: int, empty: Value) -> Value:
        value = self.get(key, kind, now_ms)
        if value is None:
            value = empty
            self.values[key] = (kind, value)
        return value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
        self.expires.pop(key, None)

    def drop_if_empty(self, key: str) -> None:
        found = self.values.get(key)
        if found is not None and found[0] != "string" and not found[1]:
            self.delete(key)

    def expire_all(self, now_ms: int) -> None:
        for key in [k for k, at in self.expires.items() if at <= now_ms]:
            self.delete(key)

    def run(self, op: Op, now_ms: int) -> None:
        """
        Apply one projection write as Redis would.
        """
        handler = _COMMANDS.get(op.command)
        if handler is None:
            raise UnsupportedWrite(f"The model cannot run '{op.command}'.")
        key = op.key
        handler(
            self,
            key,
            [a if a.__class__ is bytes else as_bytes(a) for a in op.args],
            now_ms,
        )
        if op.command in _MAY_EMPTY:
            self.drop_if_empty(key)
        self.dirty.add(key)

    def restore_commands(
        self, key: str, target: str, members: int = 1000
    ) -> list[tuple[Arg, ...]]:
        """
        The commands that make ``target`` hold ``key``'s value (TTL aside),
        at most ``members`` members (fields, items) a command.
        """
        found = self.values.get(key)
        if found is None:
            return []
        kind, value = found
        if kind == "string":
            return [("SET", target, value)]
        if kind == "hash":
            command, flat, width = "HSET", [*value.items()], 2
        elif kind == "set":
            command, flat, width = "SADD", sorted(value), 1
        elif kind == "list":
            command, flat, width = "RPUSH", list(value), 1
        else:
            command, width = "ZADD", 2
            flat = [(repr(score), member) for member, score in value.items()]
        commands = []
        for start in range(0, len(flat), members):
            chunk = flat[start : start + members]
            args = [x for item in chunk for x in item] if width == 2 else chunk
            commands.append((command, target, *args))
        return commands


def _set(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    flags: set[bytes] = set()
    ttl: int | None = None
    i = 1
    while i < len(args):
        option = args[i].upper()
        if option in (b"PX", b"EX"):
            ttl = now + int(args[i + 1]) * (1 if option == b"PX" else 1000)
            i += 2
        elif option in (b"NX", b"XX", b"KEEPTTL"):
            flags.add(option)
            i += 1
        else:
            raise UnsupportedWrite(f"The model cannot run SET option {option!r}.")
    kind = space.values.get(key, ("string", None))[0]
    exists = space.get(key, kind, now) is not None
    if (b"NX" in flags and exists) or (b"XX" in flags and not exists):
        return
    if b"KEEPTTL" in flags and ttl is None:
        ttl = space.expires.get(key)
    space.delete(key)
    space.values[key] = ("string", args[0])
    if ttl is not None:
        space.expires[key] = ttl


def _hset(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.create(key, "hash", now, {})
    for i in range(0, len(args), 2):
        value[args[i]] = args[i + 1]


def _hdel(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.get(key, "hash", now) or {}
    for name in args:
        value.pop(name, None)


def _hincrby(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.create(key, "hash", now, {})
    value[args[0]] = str(int(value.get(args[0], b"0")) + int(args[1])).encode()


def _del(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    space.delete(key)


def _pexpire(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    if key in space.values and space.get(key, space.values[key][0], now) is not None:
        if int(args[0]) <= 0:
            space.delete(key)
        else:
            space.expires[key] = now + int(args[0])


def _sadd(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    space.create(key, "set", now, set()).update(args)


def _srem(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    (space.get(key, "set", now) or set()).difference_update(args)


def _lpush(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.create(key, "list", now, [])
    for item in args:
        value.insert(0, item)


def _window(size: int, start: int, stop: int) -> range:
    start = max(start + size if start < 0 else start, 0)
    stop = min(stop + size if stop < 0 else stop, size - 1)
    return range(start, stop + 1)


def _ltrim(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.get(key, "list", now)
    if value is not None:
        kept = _window(len(value), int(args[0]), int(args[1]))
        del value[kept.stop :]
        del value[: kept.start]


def _zadd(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    if len(args) % 2 or any(a.upper() in _ZADD_OPTIONS for a in args[::2]):
        raise UnsupportedWrite("The model cannot run ZADD options.")
    value = space.create(key, "zset", now, {})
    for i in range(0, len(args), 2):
        value[args[i + 1]] = float(args[i])


_ZADD_OPTIONS = {b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"}


def _zrem(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.get(key, "zset", now) or {}
    for member in args:
        value.pop(member, None)


def _zremrangebyrank(space: Keyspace, key: str, args: list[bytes], now: int) -> None:
    value = space.get(key, "zset", now)
    if value is not None:
        ordered = sorted(value, key=lambda m: (value[m], m))
        for i in _window(len(ordered), int(args[0]), int(args[1])):
            del value[ordered[i]]


#: Commands after which a key may hold an empty value (which Redis drops).
_MAY_EMPTY = frozenset({"HDEL", "SREM", "LTRIM", "ZREM", "ZREMRANGEBYRANK"})

_COMMANDS = {
    "SET": _set,
    "HSET": _hset,
    "HDEL": _hdel,
    "HINCRBY": _hincrby,
    "DEL": _del,
    "PEXPIRE": _pexpire,
    "SADD": _sadd,
    "SREM": _srem,
    "LPUSH": _lpush,
    "LTRIM": _ltrim,
    "ZADD": _zadd,
    "ZREM": _zrem,
    "ZREMRANGEBYRANK": _zremrangebyrank,
}


class Coalesced:
    """
    Runs projection writes into a ``Keyspace`` at one instant, merging the
    commuting ones per key before touching it: HINCRBY deltas are summed per
    field, LPUSHes followed by ``LTRIM key 0 n`` keep only what the trim keeps,
    and a positive PEXPIRE after HINCRBYs keeps the last TTL. Any other write
    to a key with merged writes pending runs them first, so the keyspace ends
    exactly as running every write in order would leave it. Call ``flush``
    before reading the keyspace.
    """

    def __init__(self, space: Keyspace, now_ms: int) -> None:
        self.space = space
        self.now = now_ms
        #: key -> (field -> delta, [TTL ms or None]) for HINCRBY (+ PEXPIRE).
        self.counters: dict[str, tuple[dict[bytes, int], list[int | None]]] = {}
        #: key -> (pushed items oldest first, [old items kept or None]).
        self.lists: dict[str, tuple[list[bytes], list[int | None]]] = {}

    def run(self, op: Op) -> None:
        command, key, args = op.command, op.key, op.args
        if command == "HINCRBY" and len(args) == 2 and key not in self.lists:
            pending = self.counters.get(key)
            if pending is None:
                # (A TTL merged before stays: HINCRBY keeps a key's TTL, and a
                # positive TTL set at this instant has not run out.)
                pending = self.counters[key] = ({}, [None])
            field = args[0]
            name = field if field.__class__ is bytes else as_bytes(field)
            deltas = pending[0]
            deltas[name] = deltas.get(name, 0) + int(args[1])
            return
        if command == "PEXPIRE" and key in self.counters and len(args) == 1:
            ttl = int(args[0])
            if ttl > 0:
                self.counters[key][1][0] = ttl
                return
        if command == "LPUSH" and args and key not in self.counters:
            pushed = self.lists.get(key)
            if pushed is None:
                pushed = self.lists[key] = ([], [None])
            pushed[0].extend(a if a.__class__ is bytes else as_bytes(a) for a in args)
            return
        if command == "LTRIM" and key in self.lists and len(args) == 2:
            start, stop = int(args[0]), int(args[1])
            if start == 0 and stop >= 0:
                items, kept = self.lists[key]
                size = stop + 1
                if len(items) >= size:
                    del items[: len(items) - size]
                    kept[0] = 0
                else:
                    left = size - len(items)
                    kept[0] = left if kept[0] is None else min(kept[0], left)
                return
        if key in self.counters or key in self.lists:
            self._flush_key(key)
        self.space.run(op, self.now)

    def _flush_key(self, key: str) -> None:
        space, now = self.space, self.now
        counters = self.counters.pop(key, None)
        if counters is not None:
            deltas, (ttl,) = counters
            value = space.create(key, "hash", now, {})
            for name, delta in deltas.items():
                value[name] = str(int(value.get(name, b"0")) + delta).encode()
            if ttl is not None:
                space.expires[key] = now + ttl
            space.dirty.add(key)
        pushed = self.lists.pop(key, None)
        if pushed is not None:
            items, (kept,) = pushed
            value = space.create(key, "list", now, [])
            value[:] = items[::-1] + (value if kept is None else value[:kept])
            space.dirty.add(key)

    def flush(self) -> None:
        """
        Run every merged write still held.
        """
        for key in [*self.counters, *self.lists]:
            self._flush_key(key)
