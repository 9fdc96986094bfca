"""
The per-process runtime: the Redis client, the stores, the in-memory system
state, the password hasher and the key ring, created once per app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from events.store import EventStore
from loginsvc import keys
from loginsvc.config import Settings
from loginsvc.connection import RedisClient
from loginsvc.passwords import PasswordHasher
from loginsvc.ratelimit import RateLimiter
from loginsvc.signing import KeyRing
from projections.store import ProjectionStore
from projections.system import SystemState


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Runtime:
    """
    Everything a service function needs; tests build one around fakeredis.
    """

    settings: Settings
    redis: RedisClient
    hasher: PasswordHasher
    server_key: bytes = b""
    clock: Callable[[], int] = wall_clock_ms
    system: SystemState = field(default_factory=SystemState)
    keyring: KeyRing = field(default_factory=KeyRing)
    events: EventStore = field(init=False)
    projections: ProjectionStore = field(init=False)
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventStore(self.redis)
        self.projections = ProjectionStore(self.redis)
        self.limiter = RateLimiter(self.redis, self.settings)

    def user_tag(self, user_id: str) -> str:
        return keys.tag(keys.partition_of(user_id, self.settings.partitions))

    def user_key(self, user_id: str) -> str:
        return keys.user(self.user_tag(user_id), user_id)
