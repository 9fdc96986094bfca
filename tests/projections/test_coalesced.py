"""
``Coalesced``: merged writes leave the keyspace exactly as running each in order.
"""

from __future__ import annotations

import random

from events.store import Arg, Op
from projections.model import Coalesced, Keyspace


def random_ops(rng: random.Random, count: int) -> list[Op]:
    ops: list[Op] = []
    for _ in range(count):
        key = rng.choice(["h1", "h2", "l1", "l2"])
        args: tuple[Arg, ...]
        if key.startswith("h"):
            command = rng.choice(["HINCRBY"] * 4 + ["PEXPIRE", "HSET", "DEL", "HDEL"])
            if command == "HINCRBY":
                args = (rng.choice(["a", b"b", "c"]), rng.randint(-3, 5))
            elif command == "PEXPIRE":
                args = (rng.choice([1000, 5000, 0, -1]),)
            elif command == "HSET":
                args = ("a", b"7")
            elif command == "HDEL":
                args = ("c",)
            else:
                args = ()
        else:
            command = rng.choice(["LPUSH"] * 3 + ["LTRIM"] * 2 + ["PEXPIRE", "DEL"])
            if command == "LPUSH":
                args = tuple(f"x{rng.randint(0, 99)}" for _ in range(rng.randint(1, 3)))
            elif command == "LTRIM":
                args = (rng.choice([0, 0, 0, 1, -2]), rng.choice([0, 2, 4, -1]))
            elif command == "PEXPIRE":
                args = (rng.choice([1000, 0]),)
            else:
                args = ()
        ops.append(Op(command, key, args))
    return ops


def test_merged_writes_match_running_each_in_order() -> None:
    rng = random.Random(7)
    for _ in range(300):
        plain, merged = Keyspace(), Keyspace()
        now = 1_000_000
        for _page in range(3):
            ops = random_ops(rng, rng.randint(1, 40))
            writes = Coalesced(merged, now)
            for op in ops:
                plain.run(op, now)
                writes.run(op)
            writes.flush()
            assert merged.values == plain.values
            assert merged.expires == plain.expires
            assert merged.dirty <= plain.dirty
            now += rng.choice([0, 900, 3000])


def test_capped_lists_and_counters_merge() -> None:
    space = Keyspace()
    writes = Coalesced(space, 0)
    for n in range(10):
        writes.run(Op("LPUSH", "l", (f"r{n}",)))
        writes.run(Op("LTRIM", "l", (0, 3)))
        writes.run(Op("HINCRBY", "h", ("f", 1)))
        writes.run(Op("PEXPIRE", "h", (100 + n,)))
    assert writes.lists and writes.counters
    writes.flush()
    assert space.values["l"] == ("list", [b"r9", b"r8", b"r7", b"r6"])
    assert space.values["h"] == ("hash", {b"f": b"10"})
    assert space.expires["h"] == 109
