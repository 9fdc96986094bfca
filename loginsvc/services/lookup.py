"""
Finding users: by id, and by loginId through the index.
"""

from __future__ import annotations

from loginsvc import keys
from loginsvc.runtime import Runtime
from projections.store import Doc


async def user_id_for_login_id(rt: Runtime, login_id: str) -> str | None:
    """
    The id of the user whose email or username is ``login_id``, any case.
    """
    found = await rt.redis.get(keys.login_id_index(login_id))
    return found.decode() if isinstance(found, bytes) else found


async def load_user(rt: Runtime, user_id: str) -> tuple[int, Doc | None]:
    """
    A user's version and document; ``(n, None)`` when absent or deleted.
    """
    return await rt.projections.load(rt.user_key(user_id))
