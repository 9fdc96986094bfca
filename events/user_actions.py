"""
Pure rules about user actions applied to a user.
"""

from __future__ import annotations

from typing import Any


def preventing_actions(
    doc: dict[str, Any], application_id: str | None, now_ms: int
) -> list[dict[str, Any]]:
    """
    The applied actions that prevent this login now, as FusionAuth lists them.

    An action prevents login while it is not cancelled or expired and its
    ``applicationIds`` is empty or names the login's application.
    """
    found = []
    for action in doc.get("_actions", []):
        if not action.get("preventLogin") or action.get("cancelled"):
            continue
        expiry = action.get("expiry")
        if isinstance(expiry, int) and expiry <= now_ms:
            continue
        apps = action.get("applicationIds") or []
        if apps and application_id not in apps:
            continue
        found.append(
            {
                "actionId": action["id"],
                "actionerUserId": action.get("actionerUserId"),
                "expiry": expiry,
                "localizedName": action.get("localizedName"),
                "name": action.get("name"),
                "option": action.get("option"),
                "reason": action.get("reason"),
                "reasonCode": action.get("reasonCode"),
            }
        )
    return found
