"""
The two-factor projections: pure writers of TTL keys and the user document fold.
"""

from __future__ import annotations

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
from projections import two_factor
from projections.store import unpack
from projections.user import evolve

TAG = keys.tag(3)
AT = 1_700_000_000_000
USER = {"id": "u1", "email": "ada@example.com", "twoFactor": {}}


def envelope(event: object, at: int = AT, n: int = 1) -> Envelope:
    return Envelope(event, "user:u1", n, at)


def issued(ttl_seconds: int = 300) -> Envelope:
    event = TwoFactorIssued(
        user_id="u1",
        two_factor_id_digest="d" * 64,
        ttl_seconds=ttl_seconds,
        application_id=None,
        login_id="ada@example.com",
    )
    return envelope(event)


def test_pending_id_writer_keeps_the_remaining_lifetime() -> None:
    """
    An id issued 120 s ago with a 300 s lifetime gets a 180 s TTL on rebuild.
    """
    ops = two_factor.issued(TAG, issued(), AT + 120_000)

    assert 1 == len(ops)
    op = ops[0]
    assert ("SET", keys.two_factor_pending(TAG, "d" * 64)) == (op.command, op.key)
    assert ("PX", 180_000) == op.args[1:]
    record = unpack(bytes(op.args[0]))  # type: ignore[arg-type]
    assert ("u1", AT + 300_000) == (record["userId"], record["expiresAt"])


def test_pending_id_writer_writes_nothing_once_expired() -> None:
    """
    At or after the id's expiry, a rebuild does not bring it back.
    """
    assert [] == two_factor.issued(TAG, issued(), AT + 300_000)
    assert [] == two_factor.issued(TAG, issued(), AT + 900_000)


def test_completing_deletes_the_pending_id() -> None:
    """
    A redeemed id's key is deleted in the same append.
    """
    event = TwoFactorCompleted("u1", "d" * 64, "ABCD", step=5)

    ops = two_factor.completed(TAG, envelope(event), AT)

    assert [Op("DEL", keys.two_factor_pending(TAG, "d" * 64))] == ops


def test_trust_writer_keeps_the_remaining_lifetime_or_nothing() -> None:
    """
    A trust expiring in 10 s from ``now_ms`` gets a 10 s TTL; a past one none.
    """
    event = TwoFactorTrustGranted("u1", "t" * 64, AT + 40_000)

    live = two_factor.trusted(TAG, envelope(event), AT + 30_000)
    gone = two_factor.trusted(TAG, envelope(event), AT + 40_000)

    assert ("PX", 10_000) == live[0].args[1:]
    assert keys.two_factor_trust(TAG, "t" * 64) == live[0].key
    assert [] == gone


def test_user_fold_tracks_methods_recovery_codes_and_the_last_step() -> None:
    """
    Enable, spend a recovery code, then disable everything: the internal fields.
    """
    method = {"id": "ABCD", "method": "authenticator", "secret": "v1.sealed"}
    history = [
        TwoFactorMethodEnabled(method, step=10, recovery_code_digests=["a", "b"]),
        TwoFactorCompleted("u1", "d" * 64, recovery_code_digest="a"),
        TwoFactorCompleted("u1", "e" * 64, "ABCD", step=12),
    ]
    doc: dict[str, object] | None = dict(USER)
    for n, event in enumerate(history, start=1):
        doc = evolve(doc, envelope(event, n=n))

    assert doc is not None
    assert [method] == doc["twoFactor"]["methods"]  # type: ignore[index]
    assert ["b"] == doc["_recoveryCodes"]
    assert 12 == doc["_totpStep"]
    cleared = evolve(doc, envelope(TwoFactorMethodsDisabled(["ABCD"]), n=4))
    assert cleared is not None
    assert "_recoveryCodes" not in cleared
    assert 12 == cleared["_totpStep"]


def test_regenerated_codes_replace_the_digests() -> None:
    """
    ``RecoveryCodesGenerated`` replaces every digest.
    """
    doc = {**USER, "_recoveryCodes": ["a"]}

    after = evolve(doc, envelope(RecoveryCodesGenerated(["x", "y"])))

    assert after is not None
    assert ["x", "y"] == after["_recoveryCodes"]


def pending_issued(digest: str, at: int, ttl_seconds: int = 300) -> Envelope:
    return envelope(TwoFactorIssued("u1", digest, ttl_seconds), at)


def test_the_user_document_tracks_pending_ids_and_drops_expired_ones() -> None:
    """
    Each issued id is remembered with its expiry; a later issue drops the dead.
    """
    doc = evolve(USER, pending_issued("a" * 64, AT))
    doc = evolve(doc, pending_issued("b" * 64, AT + 200_000))
    doc = evolve(doc, pending_issued("c" * 64, AT + 301_000))

    assert doc is not None
    expected = {"b" * 64: AT + 500_000, "c" * 64: AT + 601_000}
    assert expected == doc["_twoFactorPending"]
    assert ["b" * 64, "c" * 64] == two_factor.pending_digests(doc, AT + 301_000)
    assert ["c" * 64] == two_factor.pending_digests(doc, AT + 500_000)


def test_completing_or_revoking_forgets_pending_ids() -> None:
    """
    A completed id and revoked ids leave the document; the rest stay.
    """
    doc = evolve(USER, pending_issued("a" * 64, AT))
    doc = evolve(doc, pending_issued("b" * 64, AT))
    doc = evolve(doc, pending_issued("c" * 64, AT))

    doc = evolve(doc, envelope(TwoFactorCompleted("u1", "a" * 64)))
    assert doc is not None
    assert ["b" * 64, "c" * 64] == two_factor.pending_digests(doc, AT)
    doc = evolve(doc, envelope(TwoFactorIdsRevoked("u1", ["b" * 64])))

    assert doc is not None
    assert ["c" * 64] == two_factor.pending_digests(doc, AT)


def test_revoking_deletes_every_named_pending_key() -> None:
    """
    The writer deletes each revoked id's key in the same append.
    """
    event = TwoFactorIdsRevoked("u1", ["a" * 64, "b" * 64])

    ops = two_factor.revoked(TAG, envelope(event), AT)

    expected = [
        Op("DEL", keys.two_factor_pending(TAG, "a" * 64)),
        Op("DEL", keys.two_factor_pending(TAG, "b" * 64)),
    ]
    assert expected == ops


def test_a_pending_record_carries_the_one_time_code_digest() -> None:
    """
    The code is stored only as the digest the event carries.
    """
    event = TwoFactorIssued("u1", "d" * 64, 300, code_digest="e" * 64)

    record = two_factor.pending_record(event, AT)

    assert "e" * 64 == record["codeDigest"]
