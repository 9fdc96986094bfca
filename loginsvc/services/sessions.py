"""
Sessions outside the password login: the login ping (reference §3) and
logout (reference §4).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.login import LoggedIn, LoggedOut
from events.refresh_token import RefreshTokensRevoked
from loginsvc.errors import NotFound
from loginsvc.runtime import Runtime
from loginsvc.services import refresh
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.lookup import load_user
from loginsvc.views import registration_of
from projections.store import Doc


@dataclass(frozen=True, slots=True)
class Ping:
    """
    A validated ``PUT /api/login``: who logged in where, from which address.
    """

    user_id: str
    application_id: str | None = None
    ip_address: str | None = None


async def ping(rt: Runtime, cmd: Ping) -> int:
    """
    Record a login without credentials; 200, or 202 when not registered.
    """

    async def attempt() -> int:
        version, doc = await load_user(rt, cmd.user_id)
        if doc is None:
            raise NotFound()
        registered = bool(cmd.application_id) and (
            registration_of(doc, cmd.application_id or "") is not None
        )
        login_id, login_id_type = _login_id(doc)
        event = LoggedIn(
            user_id=cmd.user_id,
            authentication_type="PING",
            application_id=cmd.application_id,
            registered=registered,
            ip_address=cmd.ip_address,
            login_id=login_id,
            login_id_type=login_id_type,
        )
        await commit_user(rt, cmd.user_id, version, doc, [event])
        return 202 if cmd.application_id and not registered else 200

    return await retrying(attempt)


def _login_id(doc: Doc) -> tuple[str | None, str | None]:
    if doc.get("email"):
        return str(doc["email"]), "email"
    if doc.get("username"):
        return str(doc["username"]), "username"
    return None, None


async def logout(rt: Runtime, refresh_token: str | None, global_: bool) -> None:
    """
    Revoke the refresh token, or every token of its owner; unknown ones are ignored.

    Three Redis round trips: the token, its owner (with every token id and
    digest for a global logout, in one script), and the version-checked append.
    """
    if not refresh_token:
        return
    record = await refresh.find_by_value(rt, refresh_token)
    if record is None:
        return
    user_id = record["userId"]

    async def attempt() -> None:
        if global_:
            version, doc, tokens = await refresh.owner_and_tokens(rt, user_id)
        else:
            version, doc = await load_user(rt, user_id)
            tokens = [record]
        # Revoking a record already dropped from its owner's set only deletes it.
        listed = [{"id": t["id"], "digest": t["digest"]} for t in tokens]
        ids = [t["id"] for t in tokens]
        events = [
            LoggedOut(user_id, ids, global_),
            RefreshTokensRevoked(user_id, listed, "logout", global_),
        ]
        await commit_user(rt, user_id, version, doc, events)

    await retrying(attempt)
