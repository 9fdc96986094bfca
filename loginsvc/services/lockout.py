"""
Failed-login counting and lockout, as the tenant's
``failedAuthenticationConfiguration`` says (reference §8).

The count, the check and the action are one commit on the user aggregate, so
concurrent wrong passwords cannot slip past the limit.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from events import login as login_events
from events import user as user_events
from events.refresh_token import RefreshTokensRevoked
from events.two_factor import TwoFactorIdsRevoked
from loginsvc import keys
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_user
from loginsvc.services.system import tenant
from loginsvc.tenant import setting
from projections.store import Doc
from projections.two_factor import pending_digests

_UNIT_MS = {
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
    "WEEKS": 7 * 86_400_000,
    "MONTHS": 30 * 86_400_000,
    "YEARS": 365 * 86_400_000,
}


def failure_count(doc: Doc, now_ms: int, reset_seconds: int) -> int:
    """
    The user's consecutive failures including this one.

    The window runs from the most recent failure; a success does not reset it
    (FusionAuth issue 2277).
    """
    failed = doc.get("_failed")
    if not failed or failed["last"] + reset_seconds * 1000 < now_ms:
        return 1
    return int(failed["count"]) + 1


def failure_events(
    rt: Runtime, doc: Doc, attempt: login_events.LoginAttempted
) -> tuple[list[Any], dict[str, Any] | None]:
    """
    The events of one failed attempt, and the lockout it triggers, if any.
    """
    config = setting(tenant(rt), "failedAuthenticationConfiguration", default={})
    now = rt.clock()
    count = failure_count(doc, now, int(config.get("resetCountInSeconds") or 60))
    events: list[Any] = [dataclasses.replace(attempt, failure_count=count)]
    action_id = config.get("userActionId")
    definition = rt.system.get("useraction", action_id) if action_id else None
    if definition is None or count < int(config.get("tooManyAttempts") or 5):
        return events, None
    duration = int(config.get("actionDuration") or 3)
    unit = _UNIT_MS.get(str(config.get("actionDurationUnit") or "MINUTES"), 60_000)
    action = {
        "id": str(uuid.uuid4()),
        "actioneeUserId": doc["id"],
        "userActionId": action_id,
        "comment": "Failed Login Attempts Exceeded.",
        "expiry": now + duration * unit,
        "insertInstant": now,
        "name": definition.get("name"),
        "localizedName": definition.get("name"),
        "preventLogin": bool(definition.get("preventLogin")),
        "applicationIds": [],
    }
    events.append(user_events.UserActionApplied(action))
    if action["preventLogin"] and revokes_on_login_prevented(rt):
        events.append(
            RefreshTokensRevoked(doc["id"], [], "loginPrevented", every_token=True)
        )
    prevented = {
        "actionId": action["id"],
        "expiry": action["expiry"],
        "localizedName": action["localizedName"],
        "name": action["name"],
    }
    return events, prevented


async def commit_failure(
    rt: Runtime,
    version: int,
    doc: Doc,
    attempt: login_events.LoginAttempted,
    revoke_two_factor_ids: bool = False,
) -> dict[str, Any] | None:
    """
    Commit one failed attempt; the lockout action it triggered, if any.

    With ``revoke_two_factor_ids`` a lockout also revokes the user's pending
    twoFactorIds in the same commit, as FusionAuth does on a wrong code
    (reference §2.5). The action's index is written first, so a cancel can
    find its user.
    """
    events, prevented = failure_events(rt, doc, attempt)
    pending = pending_digests(doc, rt.clock()) if revoke_two_factor_ids else []
    if prevented is not None and pending:
        events.append(TwoFactorIdsRevoked(doc["id"], pending))
    if prevented is not None:
        await rt.redis.set(keys.user_action_index(prevented["actionId"]), doc["id"])
    await commit_user(rt, doc["id"], version, doc, events)
    return prevented


def revokes_on_login_prevented(rt: Runtime) -> bool:
    """
    The tenant's ``refreshTokenRevocationPolicy.onLoginPrevented`` (default true).
    """
    policy = setting(
        tenant(rt), "jwtConfiguration", "refreshTokenRevocationPolicy", default={}
    )
    return bool((policy or {}).get("onLoginPrevented", True))
