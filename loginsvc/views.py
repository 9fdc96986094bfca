"""
FusionAuth JSON views of stored documents: what may leave the service.
"""

from __future__ import annotations

import copy
from typing import Any

_USER_SECRETS = ("password", "salt", "encryptionScheme", "factor")


def secured_user(doc: dict[str, Any]) -> dict[str, Any]:
    """
    The user as FusionAuth returns it: no password data, no two-factor secrets.
    """
    user = {
        k: copy.deepcopy(v)
        for k, v in doc.items()
        if not k.startswith("_") and k not in _USER_SECRETS
    }
    two_factor = user.get("twoFactor") or {}
    methods = [
        {k: v for k, v in m.items() if k != "secret"}
        for m in two_factor.get("methods", [])
    ]
    user["twoFactor"] = {"methods": methods} if methods else {}
    if not user.get("registrations"):
        user.pop("registrations", None)
    return user


def registration_of(doc: dict[str, Any], application_id: str) -> dict[str, Any] | None:
    for registration in doc.get("registrations", []):
        if registration.get("applicationId") == application_id:
            return dict(registration)
    return None
