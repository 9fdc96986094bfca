"""
Whether a login needs a second factor, and the twoFactorId it hands out.

Used by the password login (242 before 203, reference §1.4 step 7), by
``/api/two-factor/start`` and by ``/api/two-factor/status``. Ids and trust ids
start with the user's partition in two hex digits, like refresh tokens, so a
lookup needs no index; only their digests are stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from events.login import LoginAttempted, TwoFactorIssued
from loginsvc import keys
from loginsvc.runtime import Runtime
from loginsvc.services.system import tenant
from loginsvc.tenant import setting
from loginsvc.totp import digest
from loginsvc.views import secured_user
from projections.store import Doc, unpack

#: What a user without methods could set up under a ``Required`` policy.
CONFIGURABLE_METHODS = ["authenticator"]


@dataclass(slots=True)
class Challenge:
    """
    A 242 answer: the events that issue the id, and the body that names it.
    """

    two_factor_id: str
    events: list[Any] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)


def login_policy(rt: Runtime, application: dict[str, Any] | None) -> str:
    """
    ``Enabled``, ``Disabled`` or ``Required``: the application's, else the tenant's.
    """
    own = ((application or {}).get("multiFactorConfiguration") or {}).get("loginPolicy")
    if own:
        return str(own)
    policy = setting(tenant(rt), "multiFactorConfiguration", "loginPolicy")
    return str(policy or "Enabled")


def methods_of(doc: Doc) -> list[dict[str, Any]]:
    """
    The user's methods as FusionAuth shows them: no secrets.
    """
    return list(secured_user(doc).get("twoFactor", {}).get("methods", []))


def needs_challenge(rt: Runtime, doc: Doc, application: dict[str, Any] | None) -> bool:
    """
    Whether the policy in force asks this user for a second factor.
    """
    policy = login_policy(rt, application)
    if policy == "Disabled":
        return False
    return policy == "Required" or bool(methods_of(doc))


def new_id(rt: Runtime, user_id: str) -> str:
    """
    A twoFactorId or trust id: the user's partition, then 256 random bits.
    """
    partition = keys.partition_of(user_id, rt.settings.partitions)
    return f"{partition:02x}" + secrets.token_urlsafe(32)


def tag_of_id(rt: Runtime, value: str) -> str | None:
    """
    The partition tag an id names, or ``None`` if it names none.
    """
    try:
        partition = int(value[:2], 16)
    except ValueError:
        return None
    if not 0 <= partition < rt.settings.partitions or len(value) < 16:
        return None
    return keys.tag(partition)


async def valid_trust(rt: Runtime, user_id: str, trust_id: str | None) -> Doc | None:
    """
    The trust record when ``trust_id`` is a live trust of this user.
    """
    tag = tag_of_id(rt, trust_id or "")
    if tag is None or trust_id is None or tag != rt.user_tag(user_id):
        return None
    raw = await rt.projections.get(keys.two_factor_trust(tag, digest(trust_id)))
    if raw is None:
        return None
    record = unpack(raw)
    if record.get("userId") != user_id or record["expiration"] <= rt.clock():
        return None
    return record


def issue(
    rt: Runtime,
    doc: Doc,
    application_id: str | None,
    login_id: str | None,
    ip_address: str | None,
    context: dict[str, Any] | None = None,
) -> Challenge:
    """
    A fresh twoFactorId for the user, with the ``TwoFactorIssued`` that stores it.
    """
    two_factor_id = new_id(rt, doc["id"])
    ttl = setting(
        tenant(rt), "externalIdentifierConfiguration", "twoFactorIdTimeToLiveInSeconds"
    )
    event = TwoFactorIssued(
        user_id=doc["id"],
        two_factor_id_digest=digest(two_factor_id),
        ttl_seconds=int(ttl or 300),
        application_id=application_id,
        login_id=login_id,
        ip_address=ip_address,
        context=context,
    )
    methods = methods_of(doc)
    body: dict[str, Any] = {"twoFactorId": two_factor_id, "methods": methods}
    if not methods:
        # TODO(parity): completing a Required setup during login (enable with
        # twoFactorId, https://fusionauth.io/docs/apis/two-factor) is not built.
        body["configurableMethods"] = CONFIGURABLE_METHODS
    return Challenge(two_factor_id, [event], body)


async def login_challenge(
    rt: Runtime,
    doc: Doc,
    application: dict[str, Any] | None,
    attempt: LoginAttempted,
    trust_id: str | None,
) -> Challenge | None:
    """
    The 242 challenge a password login must answer, or ``None`` to go on.
    """
    if not needs_challenge(rt, doc, application):
        return None
    if await valid_trust(rt, doc["id"], trust_id) is not None:
        return None
    challenge = issue(
        rt,
        doc,
        attempt.application_id,
        attempt.login_id,
        attempt.ip_address,
        {"authenticationType": "PASSWORD"},
    )
    challenge.events.insert(0, attempt)
    return challenge
