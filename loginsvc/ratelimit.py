"""
Opt-in rate limits on the login endpoints, which FusionAuth's Login API lacks.

A fixed-window counter per client IP and per loginId: one Lua call does the
INCR and, for a new window, the PEXPIRE, so a counter never lives without its
expiry. Each counter is one key in its own slot, which works unchanged on
Redis Cluster. Values are hashed before they name a key, so no loginId is
spelled in Redis and a brace in one cannot pick a hash slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import math

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from loginsvc import keys
from loginsvc.config import RateLimit, Settings
from loginsvc.errors import TooManyRequests

_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RateLimiter:
    """
    Counts login requests per client IP and per loginId; off when unset.
    """

    def __init__(self, redis: Redis | RedisCluster, settings: Settings) -> None:
        self.by_ip = settings.rate_limit_ip
        self.by_login_id = settings.rate_limit_login_id
        self._hit = redis.register_script(_HIT)

    async def check(self, ip: str | None, login_id: str | None) -> None:
        """
        Count this request; raise ``TooManyRequests`` when a limit is exceeded.
        """
        hits = []
        if self.by_ip is not None and ip:
            hits.append(self._count("ip", ip, self.by_ip))
        if self.by_login_id is not None and login_id:
            hits.append(self._count("loginid", login_id.lower(), self.by_login_id))
        if not hits:
            return

        waits = await asyncio.gather(*hits)
        if max(waits) > 0:
            raise TooManyRequests(max(waits))

    async def _count(self, kind: str, value: str, limit: RateLimit) -> int:
        """
        Seconds until the window ends if it is exhausted, else 0.
        """
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        key = keys.rate_limit(kind, digest[:32])
        count, ttl_ms = await self._hit(keys=[key], args=[limit.seconds * 1000])
        if int(count) <= limit.count:
            return 0
        return max(1, math.ceil(int(ttl_ms) / 1000))
