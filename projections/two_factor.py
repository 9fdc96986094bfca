"""
The two-factor read models: the user's methods, recovery-code digests,
last accepted TOTP step and pending twoFactorId digests (inside the user
document), and the TTL keys of pending twoFactorIds and trusted devices (in
the user's partition).

A TTL key's lifetime is computed from the event time and ``now_ms``, so a
rebuild brings back a pending id or a trust with what is left of its life, or
nothing once it has expired.
"""

from __future__ import annotations

import copy
from typing import Any

from events.codec import Envelope
from events.login import TwoFactorIssued
from events.store import Op
from events.two_factor import (
    RecoveryCodesGenerated,
    TwoFactorCompleted,
    TwoFactorIdsRevoked,
    TwoFactorMethodEnabled,
    TwoFactorMethodsDisabled,
    TwoFactorTrustGranted,
)
from loginsvc import keys
from projections.store import pack
from projections.writes import writes_for

Doc = dict[str, Any]


def apply(doc: Doc, event: Any) -> None:
    """
    Fold one two-factor event into a user document the caller already copied.
    """
    match event:
        case TwoFactorMethodEnabled():
            methods = [*_methods(doc), copy.deepcopy(event.method)]
            doc["twoFactor"] = {**doc.get("twoFactor", {}), "methods": methods}
            if event.recovery_code_digests is not None:
                doc["_recoveryCodes"] = list(event.recovery_code_digests)
        case TwoFactorMethodsDisabled():
            gone = set(event.method_ids)
            methods = [m for m in _methods(doc) if m.get("id") not in gone]
            doc["twoFactor"] = {**doc.get("twoFactor", {}), "methods": methods}
            if not methods:
                # A later first method brings a fresh set (reference §2.4).
                doc.pop("_recoveryCodes", None)
        case RecoveryCodesGenerated():
            doc["_recoveryCodes"] = list(event.digests)
        case TwoFactorCompleted():
            _forget_pending(doc, [event.two_factor_id_digest])
            spent = event.recovery_code_digest
            if spent is not None:
                codes = doc.get("_recoveryCodes", [])
                doc["_recoveryCodes"] = [d for d in codes if d != spent]
        case TwoFactorIdsRevoked():
            _forget_pending(doc, event.two_factor_id_digests)
    step = getattr(event, "step", None)
    if step is not None:
        doc["_totpStep"] = max(step, int(doc.get("_totpStep", -1)))


def track_pending(doc: Doc, event: TwoFactorIssued, at: int) -> None:
    """
    Remember an issued id's digest and expiry in a document the caller copied,
    so a lockout can revoke every pending id; expired ones are dropped here.
    """
    pending = {d: e for d, e in doc.get("_twoFactorPending", {}).items() if e > at}
    pending[event.two_factor_id_digest] = at + event.ttl_seconds * 1000
    doc["_twoFactorPending"] = pending


def pending_digests(doc: Doc, now_ms: int) -> list[str]:
    """
    The digests of the user's twoFactorIds that have not expired by ``now_ms``.
    """
    pending = doc.get("_twoFactorPending", {})
    return sorted(d for d, expires in pending.items() if expires > now_ms)


def _forget_pending(doc: Doc, digests: list[str]) -> None:
    pending = doc.get("_twoFactorPending")
    if pending:
        gone = set(digests)
        doc["_twoFactorPending"] = {d: e for d, e in pending.items() if d not in gone}


def _methods(doc: Doc) -> list[dict[str, Any]]:
    return list((doc.get("twoFactor") or {}).get("methods") or [])


def pending_record(event: TwoFactorIssued, at: int) -> dict[str, Any]:
    """
    What a pending twoFactorId's key holds: whose it is and how it started.
    """
    return {
        "userId": event.user_id,
        "applicationId": event.application_id,
        "loginId": event.login_id,
        "ipAddress": event.ip_address,
        "context": event.context or {},
        "insertInstant": at,
        "expiresAt": at + event.ttl_seconds * 1000,
        "codeDigest": event.code_digest,
    }


@writes_for(TwoFactorIssued.TYPE)
def issued(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: TwoFactorIssued = envelope.event
    record = pending_record(event, envelope.at)
    ttl = record["expiresAt"] - now_ms
    if ttl <= 0:
        return []
    key = keys.two_factor_pending(tag, event.two_factor_id_digest)
    return [Op("SET", key, (pack(record), "PX", ttl))]


@writes_for(TwoFactorCompleted.TYPE)
def completed(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: TwoFactorCompleted = envelope.event
    return [Op("DEL", keys.two_factor_pending(tag, event.two_factor_id_digest))]


@writes_for(TwoFactorIdsRevoked.TYPE)
def revoked(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: TwoFactorIdsRevoked = envelope.event
    return [
        Op("DEL", keys.two_factor_pending(tag, d)) for d in event.two_factor_id_digests
    ]


@writes_for(TwoFactorTrustGranted.TYPE)
def trusted(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: TwoFactorTrustGranted = envelope.event
    ttl = event.expires_at - now_ms
    if ttl <= 0:
        return []
    record = {
        "userId": event.user_id,
        "applicationId": event.application_id,
        "startInstant": envelope.at,
        "expiration": event.expires_at,
    }
    key = keys.two_factor_trust(tag, event.trust_digest)
    return [Op("SET", key, (pack(record), "PX", ttl))]
