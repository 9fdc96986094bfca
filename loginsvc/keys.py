"""
Every Redis key, stream and group name the service uses, spelled in one place.

Keys that one atomic step touches share one hash tag: ``{p07}`` for a user
partition, ``{sys}`` for the system aggregates (applications, API keys, tenant,
user-action definitions, signing keys). Index keys that start from a value
(a loginId) have no tag, so each sits in its own slot.
"""

from __future__ import annotations

import zlib
from uuid import UUID

PREFIX = "loginsvc:v1:"
SYSTEM_TAG = "{sys}"


def partition_of(user_id: str, partitions: int) -> int:
    """
    The partition a user's events and projections live in, stable for an id.
    """
    try:
        raw = UUID(user_id).bytes
    except ValueError:
        raw = user_id.encode()
    return zlib.crc32(raw) % partitions


def tag(partition: int) -> str:
    return f"{{p{partition:02d}}}"


def event_stream(tag_: str) -> str:
    return f"{PREFIX}{tag_}:events"


def aggregate(tag_: str, kind: str, aggregate_id: str) -> str:
    """
    The hash holding an aggregate's version (``v``) and projected document (``d``).
    """
    return f"{PREFIX}{tag_}:{kind}:{aggregate_id}"


def user(tag_: str, user_id: str) -> str:
    return aggregate(tag_, "user", user_id)


def login_id_index(login_id: str) -> str:
    """
    Lower-cased email or username to user id; one slot per value.
    """
    return f"{PREFIX}loginid:{login_id.lower()}"


def login_id_index_pattern() -> str:
    return f"{PREFIX}loginid:*"


def user_action_index(action_id: str) -> str:
    """
    An applied user action's id to the actionee's user id; one slot per action.
    """
    return f"{PREFIX}useraction:{action_id}"


def user_action_index_pattern() -> str:
    return f"{PREFIX}useraction:*"


def rate_limit(kind: str, digest: str) -> str:
    """
    A fixed-window request counter for one client IP or loginId digest; one
    slot per value, so limits never contend with user partitions.
    """
    return f"{PREFIX}ratelimit:{kind}:{digest}"


def partition_count() -> str:
    return f"{PREFIX}meta:partitions"


def kickstart_claim() -> str:
    return f"{PREFIX}meta:kickstart"


def server_key() -> str:
    return f"{PREFIX}meta:server-key"


def two_factor_pending(tag_: str, two_factor_id: str) -> str:
    return f"{PREFIX}{tag_}:2fa:{two_factor_id}"


def two_factor_trust(tag_: str, digest: str) -> str:
    return f"{PREFIX}{tag_}:trust:{digest}"


def refresh_token(tag_: str, digest: str) -> str:
    return f"{PREFIX}{tag_}:rt:{digest}"


def refresh_token_by_id(tag_: str, token_id: str) -> str:
    return f"{PREFIX}{tag_}:rtid:{token_id}"


def user_refresh_tokens(tag_: str, user_id: str) -> str:
    return f"{PREFIX}{tag_}:rts:{user_id}"


def retired_refresh_token(tag_: str, digest: str) -> str:
    """
    A rotated-out one-time refresh token's digest, pointing at its token id.
    """
    return f"{PREFIX}{tag_}:rtold:{digest}"


def refresh_token_pattern(tag_: str) -> str:
    return f"{PREFIX}{tag_}:rt:*"


def login_counts(tag_: str) -> str:
    """
    Per-partition login counts by application; summed over partitions on read.
    """
    return f"{PREFIX}{tag_}:logins"


def login_day(tag_: str, day: int) -> str:
    """
    One partition's hourly login counters of one UTC day (days since the epoch).
    """
    return f"{PREFIX}{tag_}:loginday:{day}"


def recent_logins(tag_: str) -> str:
    return f"{PREFIX}{tag_}:recent"


def user_recent_logins(tag_: str, user_id: str) -> str:
    return f"{PREFIX}{tag_}:recent:{user_id}"


def projection_pattern(tag_: str) -> str:
    """
    Every projection key of one tag (streams excluded by the caller).
    """
    return f"{PREFIX}{tag_}:*"


def all_tags(partitions: int) -> list[str]:
    return [SYSTEM_TAG, *(tag(p) for p in range(partitions))]


def rebuild_lock() -> str:
    """
    Held (SET NX PX, renewed) while a projection rebuild runs; one at a time.
    """
    return f"{PREFIX}meta:rebuild-lock"


def rebuild_index() -> str:
    """
    While a rebuild runs, the set of index keys its rebuilt documents hold.
    """
    return f"{PREFIX}meta:rebuild-index"


def archive_state() -> str:
    """
    Per partition tag, the last entry id archived and trimmed; ``folder`` names
    the archive it went to.
    """
    return f"{PREFIX}meta:archive"


def staging(key: str) -> str:
    """
    A projection key's twin while a rebuild writes it; it keeps the hash tag.
    """
    return f"{PREFIX}rebuild:{key.removeprefix(PREFIX)}"


def staged_keys(tag_: str) -> str:
    """
    While a rebuild writes a tag's staging twins, the set of the projection
    keys they stand for (no projection key of a tag starts with ``~``).
    """
    return f"{PREFIX}rebuild:{tag_}:~staged"


def staging_pattern(tag_: str) -> str:
    return f"{PREFIX}rebuild:{tag_}:*"
