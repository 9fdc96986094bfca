"""
The loginId index: one lower-cased namespace for emails and usernames.

A value is reserved with ``SET NX`` before the event that uses it is
committed, so two concurrent requests cannot both take it; a reservation the
commit did not use is released again. Only the holder's id can release a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loginsvc import keys
from loginsvc.errors import Problems
from loginsvc.runtime import Runtime
from loginsvc.services.documents import storable
from loginsvc.services.lookup import load_user, user_id_for_login_id

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_KINDS = {"user.email": "email", "user.username": "username"}


def login_values(doc: dict[str, Any] | None) -> set[str]:
    """
    The lower-cased email and username a user document holds in the index.
    """
    if not doc:
        return set()
    return {v.lower() for v in (doc.get("email"), doc.get("username")) if v}


async def claim(
    rt: Runtime, user_id: str, wanted: dict[str, str], problems: Problems
) -> list[str]:
    """
    Reserve each wanted value (by field path) for ``user_id``.

    With problems already found nothing is written: values are only checked,
    so every error is reported at once. Returns the values this call took.
    """
    taken: list[str] = []
    duplicates: list[str] = []
    for field_, value in wanted.items():
        if not storable(value):
            continue  # Already reported by check_storable; Redis cannot hold it.
        if problems:
            holder = await user_id_for_login_id(rt, value)
            if holder not in (None, user_id):
                duplicates.append(field_)
        elif await _reserve(rt, user_id, value):
            taken.append(value)
        elif await user_id_for_login_id(rt, value) != user_id:
            duplicates.append(field_)
    if duplicates:
        await release(rt, user_id, taken)
        taken = []
    for field_ in duplicates:
        kind = _KINDS.get(field_, "login id")
        problems.add(field_, "duplicate", f"A user with this {kind} already exists.")
    return taken


async def _reserve(rt: Runtime, user_id: str, value: str) -> bool:
    key = keys.login_id_index(value)
    for _ in range(2):
        if await rt.redis.set(key, user_id, nx=True):
            return True
        # The holder may have released it between the SET and this GET.
        if await rt.redis.get(key) is not None:
            return False
    return False


async def release(rt: Runtime, user_id: str, values: Iterable[str]) -> None:
    """
    Delete index entries that still name ``user_id``.
    """
    for value in values:
        await rt.redis.eval(_RELEASE, 1, keys.login_id_index(value), user_id)


async def release_unused(rt: Runtime, user_id: str, values: Iterable[str]) -> None:
    """
    Release reservations that the user's stored document does not use.
    """
    _version, doc = await load_user(rt, user_id)
    in_use = login_values(doc)
    await release(rt, user_id, [v for v in values if v.lower() not in in_use])
