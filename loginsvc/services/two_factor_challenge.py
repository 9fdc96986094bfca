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
from loginsvc.errors import NotFound
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
    A 242 answer: the events that issue the id, and the body that names it;
    with the one-time code the id also accepts, when it has one.
    """

    two_factor_id: str
    events: list[Any] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    code: str | None = None


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
    with_code: bool = False,
) -> Challenge:
    """
    A fresh twoFactorId for the user, with the ``TwoFactorIssued`` that stores it.

    ``with_code`` adds a one-time code the id accepts (reference §2.7).
    """
    two_factor_id = new_id(rt, doc["id"])
    ttl = setting(
        tenant(rt), "externalIdentifierConfiguration", "twoFactorIdTimeToLiveInSeconds"
    )
    code = new_one_time_code() if with_code else None
    event = TwoFactorIssued(
        user_id=doc["id"],
        two_factor_id_digest=digest(two_factor_id),
        ttl_seconds=int(ttl or 300),
        application_id=application_id,
        login_id=login_id,
        ip_address=ip_address,
        context=context,
        code_digest=one_time_digest(two_factor_id, code) if code else None,
    )
    methods = methods_of(doc)
    body: dict[str, Any] = {"twoFactorId": two_factor_id, "methods": methods}
    if not methods:
        body["configurableMethods"] = CONFIGURABLE_METHODS
    return Challenge(two_factor_id, [event], body, code)


def new_one_time_code() -> str:
    """
    Six random digits, as FusionAuth's one-time code generator makes them.
    """
    return f"{secrets.randbelow(10**6):06d}"


def one_time_digest(two_factor_id: str, code: str) -> str:
    """
    The stored form of a one-time code: bound to its id, so the six digits
    alone cannot be found from the digest without the id.
    """
    return digest(f"{two_factor_id}:{code}")


async def pending(rt: Runtime, two_factor_id: str) -> tuple[Doc, str]:
    """
    A pending id's record and digest; 404 when unknown or expired.
    """
    tag = tag_of_id(rt, two_factor_id)
    if tag is None:
        raise NotFound()
    id_digest = digest(two_factor_id)
    raw = await rt.projections.get(keys.two_factor_pending(tag, id_digest))
    record = unpack(raw) if raw is not None else None
    # The key's own TTL runs on the Redis clock; the service's clock decides too.
    if record is None or record["expiresAt"] <= rt.clock():
        raise NotFound()
    return record, id_digest


def with_one_time_code(
    rt: Runtime, record: Doc, id_digest: str, code_digest: str
) -> Any:
    """
    The ``TwoFactorIssued`` that gives a pending id a one-time code, for what
    is left of its life; the record's other fields stay as they were.
    """
    left_ms = int(record["expiresAt"]) - rt.clock()
    return TwoFactorIssued(
        user_id=record["userId"],
        two_factor_id_digest=id_digest,
        ttl_seconds=max(1, left_ms // 1000),
        application_id=record.get("applicationId"),
        login_id=record.get("loginId"),
        ip_address=record.get("ipAddress"),
        context=record.get("context") or None,
        code_digest=code_digest,
    )


async def login_challenge(
    rt: Runtime,
    doc: Doc,
    application: dict[str, Any] | None,
    attempt: LoginAttempted,
    trust_id: str | None,
) -> tuple[Challenge | None, tuple[str, int] | None]:
    """
    The 242 challenge a password login must answer, or the trust that spared
    it as ``(trust id, seconds left)``; neither when no challenge is due.
    """
    if not needs_challenge(rt, doc, application):
        return None, None
    trust = await valid_trust(rt, doc["id"], trust_id)
    if trust is not None and trust_id is not None:
        left_ms = int(trust["expiration"]) - rt.clock()
        return None, (trust_id, max(1, left_ms // 1000))
    challenge = issue(
        rt,
        doc,
        attempt.application_id,
        attempt.login_id,
        attempt.ip_address,
        {"authenticationType": "PASSWORD"},
    )
    challenge.events.insert(0, attempt)
    return challenge, None
