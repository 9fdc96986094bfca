"""
The user read model: one FusionAuth-shaped document per user.

Fields starting with ``_`` are internal (failed-login count, applied actions,
last accepted TOTP step) and never leave the service.

``evolve`` never changes the document it is given: it copies the document and
whatever nested value the event changes, and shares the rest, so a fold of a
long stream does not deep-copy every document for every login.
"""

from __future__ import annotations

import copy
from typing import Any

from events import login, two_factor, user
from events.codec import Envelope
from projections import two_factor as two_factor_view

Doc = dict[str, Any]


def evolve(doc: Doc | None, envelope: Envelope) -> Doc | None:
    """
    The user document after one event; ``None`` when the user does not exist.
    """
    event, at = envelope.event, envelope.at
    if isinstance(event, user.UserCreated):
        return copy.deepcopy(event.user)
    if doc is None:
        return None
    if isinstance(event, login.LoginAttempted) and event.failure_count is None:
        return doc  # a success or an unknown user: nothing to record
    doc = dict(doc)
    # The login family first: it is most of any stream.
    match event:
        case login.LoggedIn():
            _record_login(doc, event, at)
        case login.TwoFactorIssued():
            two_factor_view.track_pending(doc, event, at)
        case login.LoginAttempted():
            doc["_failed"] = {"count": event.failure_count, "last": at}
        case user.UserUpdated():
            # twoFactor is managed by the Two Factor APIs, never by an update.
            internal = {
                k: v for k, v in doc.items() if k.startswith("_") or k == "twoFactor"
            }
            doc = {**copy.deepcopy(event.user), **internal}
        case user.UserDeactivated():
            doc["active"] = False
        case user.UserReactivated():
            doc["active"] = True
        case user.UserDeleted():
            return None
        case user.UserRegistered():
            doc["registrations"] = [
                *_other_registrations(doc, event.registration["applicationId"]),
                copy.deepcopy(event.registration),
            ]
        case user.RegistrationUpdated():
            app_id = event.registration["applicationId"]
            doc["registrations"] = [
                copy.deepcopy(event.registration) if r["applicationId"] == app_id else r
                for r in doc.get("registrations", [])
            ]
        case user.RegistrationDeleted():
            doc["registrations"] = _other_registrations(doc, event.application_id)
        case user.UserActionApplied():
            doc["_actions"] = [*doc.get("_actions", []), copy.deepcopy(event.action)]
        case user.UserActionCancelled():
            doc["_actions"] = [
                a for a in doc.get("_actions", []) if a["id"] != event.action_id
            ]
        case user.PasswordRehashed():
            doc["password"] = event.password_hash
        case _ if isinstance(event, two_factor.USER_EVENTS):
            two_factor_view.apply(doc, event)
    return doc


def _other_registrations(doc: Doc, application_id: str) -> list[dict[str, Any]]:
    return [
        r for r in doc.get("registrations", []) if r["applicationId"] != application_id
    ]


def _record_login(doc: Doc, event: login.LoggedIn, at: int) -> None:
    doc["lastLoginInstant"] = at
    if "registrations" in doc:
        doc["registrations"] = [
            {**r, "lastLoginInstant": at}
            if r["applicationId"] == event.application_id
            else r
            for r in doc["registrations"]
        ]
