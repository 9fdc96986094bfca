"""
The refresh-token read model: one hash per token digest, an id-to-digest
pointer, and the set of a user's token ids, all in the user's partition.

Keys expire with the token, so a rebuild brings back only live tokens, with
their remaining lifetime.
"""

from __future__ import annotations

from events.codec import Envelope
from events.refresh_token import (
    RefreshTokenIssued,
    RefreshTokensRevoked,
    RefreshTokenUsed,
)
from events.store import Op
from loginsvc import keys
from projections.store import pack
from projections.writes import writes_for


def token_record(event: RefreshTokenIssued, at: int) -> dict[str, object]:
    return {
        "id": event.token_id,
        "userId": event.user_id,
        "applicationId": event.application_id,
        "insertInstant": at,
        "startInstant": event.start_instant,
        "expiresAt": event.expires_at,
        "authTime": event.auth_time,
        "metaData": {"device": event.device or {}},
        "digest": event.digest,
    }


@writes_for(RefreshTokenIssued.TYPE)
def issued(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: RefreshTokenIssued = envelope.event
    ttl = event.expires_at - now_ms
    if ttl <= 0:
        return []
    token_key = keys.refresh_token(tag, event.digest)
    id_key = keys.refresh_token_by_id(tag, event.token_id)
    record = pack(token_record(event, envelope.at))
    return [
        Op("SET", token_key, (record, "PX", ttl)),
        Op("SET", id_key, (event.digest, "PX", ttl)),
        Op("SADD", keys.user_refresh_tokens(tag, event.user_id), (event.token_id,)),
    ]


@writes_for(RefreshTokensRevoked.TYPE)
def revoked(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: RefreshTokensRevoked = envelope.event
    ops: list[Op] = []
    if event.every_token:
        # The set is what makes a token live, so dropping it revokes tokens
        # this event could not list; their records expire with their TTL.
        ops.append(Op("DEL", keys.user_refresh_tokens(tag, event.user_id)))
    for token in event.tokens:
        ops.append(Op("DEL", keys.refresh_token(tag, token["digest"])))
        ops.append(Op("DEL", keys.refresh_token_by_id(tag, token["id"])))
        ops.append(
            Op("SREM", keys.user_refresh_tokens(tag, event.user_id), (token["id"],))
        )
    return ops


@writes_for(RefreshTokenUsed.TYPE)
def used(tag: str, envelope: Envelope, now_ms: int) -> list[Op]:
    event: RefreshTokenUsed = envelope.event
    ttl = int(event.token["expiresAt"]) - now_ms
    digest = str(event.token["digest"])
    ops = [Op("DEL", keys.refresh_token(tag, event.previous_digest))]
    if ttl <= 0:
        return [*ops, Op("DEL", keys.refresh_token_by_id(tag, event.token_id))]
    ops += [
        Op("SET", keys.refresh_token(tag, digest), (pack(event.token), "PX", ttl)),
        Op("SET", keys.refresh_token_by_id(tag, event.token_id), (digest, "PX", ttl)),
    ]
    if digest != event.previous_digest:
        retired = pack(
            {"id": event.token_id, "userId": event.user_id, "grace": event.grace_until}
        )
        ops.append(
            Op(
                "SET",
                keys.retired_refresh_token(tag, event.previous_digest),
                (retired, "PX", ttl),
            )
        )
    return ops
