"""
Refresh tokens: finding them by value, id, user or application, revoking
them, and exchanging one for a new access token (reference §5.5, §5.6).

A token is live while its record exists, has not expired by the service
clock, and its id is in the owner's token set; dropping the set revokes
every token of a user at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events.refresh_token import RefreshTokensRevoked, RefreshTokenUsed
from loginsvc import keys
from loginsvc.errors import ConcurrencyConflict, ValidationFailed, field_error
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.lookup import load_user
from loginsvc.services.system import application as find_application
from loginsvc.services.tokens import access_token, jwt_settings, partition_of_token
from loginsvc.totp import digest
from projections.store import Doc, unpack

Token = dict[str, Any]
MINUTE_MS = 60_000


def invalid_token() -> ValidationFailed:
    return field_error(
        "refreshToken", "invalid", "The refresh token was not found or has expired."
    )


def token_view(record: Token) -> dict[str, Any]:
    """
    A token as the API shows it: never its value, digest or internal expiry.
    """
    hidden = ("digest", "expiresAt", "authTime")
    return {k: v for k, v in record.items() if k not in hidden}


def _decoded(raw: Any) -> Token | None:
    return unpack(raw) if isinstance(raw, bytes) and raw else None


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def find_by_value(rt: Runtime, value: str) -> Token | None:
    """
    The unexpired record a token value names, membership not yet checked.
    """
    partition = partition_of_token(value, rt.settings.partitions)
    if partition is None:
        return None
    raw = await rt.redis.get(keys.refresh_token(keys.tag(partition), digest(value)))
    record = _decoded(raw)
    if record is None or record["expiresAt"] <= rt.clock():
        return None
    return record


async def owner(
    rt: Runtime, record: Token, *, rotated_ok: bool = True
) -> tuple[int, Doc | None, bool]:
    """
    The owner's version and document, and whether the token is still live.

    Live means listed with its owner and still this value: the token's by-id
    pointer, read in the same round trip as the version, names this digest.
    A value rotated out by a racing refresh is therefore not live at the
    version a commit would be checked against; with ``rotated_ok`` false that
    raises ``ConcurrencyConflict``, so a retry reads the value again.
    """
    user_id = record["userId"]
    tag = rt.user_tag(user_id)
    async with rt.redis.pipeline(transaction=False) as pipe_:
        pipe: Any = pipe_
        pipe.hmget(keys.user(tag, user_id), ["v", "d"])
        pipe.sismember(keys.user_refresh_tokens(tag, user_id), record["id"])
        pipe.get(keys.refresh_token_by_id(tag, record["id"]))
        (version, raw), member, pointer = await pipe.execute()
    doc = _decoded(raw)
    if member and pointer is not None and _text(pointer) != record["digest"]:
        if rotated_ok:
            return int(version or 0), doc, False
        raise ConcurrencyConflict("The refresh token was rotated meanwhile.")
    return int(version or 0), doc, bool(member) and pointer is not None


#: The owner's version and document and each of its token ids with its digest,
#: read in one call for a global logout. KEYS: user hash, token set;
#: ARGV[1]: the by-id key of the empty id (keys.refresh_token_by_id).
_OWNER_AND_TOKENS = """
local found = redis.call('HMGET', KEYS[1], 'v', 'd')
local pairs_ = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local token_digest = redis.call('GET', ARGV[1] .. id)
  if token_digest then
    pairs_[#pairs_ + 1] = id
    pairs_[#pairs_ + 1] = token_digest
  end
end
return {found[1], found[2], pairs_}
"""


async def owner_and_tokens(
    rt: Runtime, user_id: str
) -> tuple[int, Doc | None, list[Token]]:
    """
    The user's version and document and every token id with its digest, at once.

    Tokens whose by-id key has expired are left out: they are dead already.
    """
    tag = rt.user_tag(user_id)
    script = rt.redis.register_script(_OWNER_AND_TOKENS)
    reply: Any = await script(
        keys=[keys.user(tag, user_id), keys.user_refresh_tokens(tag, user_id)],
        args=[keys.refresh_token_by_id(tag, "")],
    )
    version, raw, flat = reply
    tokens = [
        {"id": _text(i), "digest": _text(d)}
        for i, d in zip(flat[::2], flat[1::2], strict=True)
    ]
    return int(version or 0), _decoded(raw), sorted(tokens, key=lambda t: t["id"])


async def tokens_of_user(rt: Runtime, user_id: str) -> list[Token]:
    """
    The user's live tokens, oldest first.
    """
    tag = rt.user_tag(user_id)
    ids = sorted(
        _text(i)
        for i in await rt.redis.smembers(keys.user_refresh_tokens(tag, user_id))
    )
    if not ids:
        return []
    digests = await rt.redis.mget([keys.refresh_token_by_id(tag, i) for i in ids])
    found = [keys.refresh_token(tag, _text(d)) for d in digests if d]
    raws = await rt.redis.mget(found) if found else []
    records = [r for r in map(_decoded, raws) if r is not None]
    now = rt.clock()
    live = [r for r in records if r["expiresAt"] > now]
    return sorted(live, key=lambda r: (r["insertInstant"], r["id"]))


async def find_by_id(rt: Runtime, token_id: str) -> Token | None:
    """
    A live token by id; the id names no partition, so every one is asked.
    """
    tags = [keys.tag(p) for p in range(rt.settings.partitions)]
    async with rt.redis.pipeline(transaction=False) as pipe_:
        pipe: Any = pipe_
        for tag in tags:
            pipe.get(keys.refresh_token_by_id(tag, token_id))
        digests = await pipe.execute()
    for tag, found in zip(tags, digests, strict=True):
        if found:
            raw = await rt.redis.get(keys.refresh_token(tag, _text(found)))
            record = _decoded(raw)
            if record and record["expiresAt"] > rt.clock():
                live = (await owner(rt, record))[2]
                return record if live else None
    return None


async def tokens_of_application(rt: Runtime, application_id: str) -> list[Token]:
    """
    Every live token of an application, found by scanning each partition.
    """
    found: list[Token] = []
    for partition in range(rt.settings.partitions):
        pattern = keys.refresh_token_pattern(keys.tag(partition))
        names = [n async for n in rt.redis.scan_iter(match=pattern, count=500)]
        for start in range(0, len(names), 500):
            for raw in await rt.redis.mget(names[start : start + 500]):
                record = _decoded(raw)
                if record and record["applicationId"] == application_id:
                    found.append(record)
    users = {r["userId"] for r in found}
    live_ids = {r["id"] for user_id in users for r in await tokens_of_user(rt, user_id)}
    return [r for r in found if r["id"] in live_ids]


async def revoke(
    rt: Runtime,
    user_id: str,
    tokens: Sequence[Token],
    *,
    reason: str = "revoked",
    every_token: bool = False,
    before: Sequence[Any] = (),
) -> None:
    """
    Commit ``RefreshTokensRevoked`` (after ``before``) on the user aggregate.
    """
    if not tokens and not every_token:
        return
    listed = [{"id": t["id"], "digest": t["digest"]} for t in tokens]
    event = RefreshTokensRevoked(user_id, listed, reason, every_token)

    async def attempt() -> None:
        version, doc = await load_user(rt, user_id)
        await commit_user(rt, user_id, version, doc, [*before, event])

    await retrying(attempt)


@dataclass(frozen=True, slots=True)
class Exchange:
    """
    A validated refresh request.
    """

    refresh_token: str
    ip_address: str | None = None
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Exchanged:
    """
    The new access token, the refresh token to hand back, and its lifetime.
    """

    body: dict[str, Any]
    refresh_ttl_seconds: int


async def exchange(rt: Runtime, cmd: Exchange) -> Exchanged:
    """
    A new access token for a refresh token, applying the token policies.
    """
    return await retrying(lambda: _exchange_once(rt, cmd))


async def _exchange_once(rt: Runtime, cmd: Exchange) -> Exchanged:
    partition = partition_of_token(cmd.refresh_token, rt.settings.partitions)
    if partition is None:
        raise invalid_token()
    tag = keys.tag(partition)
    token_digest = digest(cmd.refresh_token)
    async with rt.redis.pipeline(transaction=False) as pipe_:
        pipe: Any = pipe_
        pipe.get(keys.refresh_token(tag, token_digest))
        pipe.get(keys.retired_refresh_token(tag, token_digest))
        raw, retired = await pipe.execute()
    record, old = _decoded(raw), _decoded(retired)
    if record is not None:
        return await _use(rt, record, cmd, rotate=True)
    if old is not None:
        return await _reused(rt, tag, old, cmd)
    raise invalid_token()


async def _reused(rt: Runtime, tag: str, retired: Token, cmd: Exchange) -> Exchanged:
    """
    A rotated-out one-time value: fine within the grace period, else theft.
    """
    current = await rt.redis.get(keys.refresh_token_by_id(tag, retired["id"]))
    raw = (
        await rt.redis.get(keys.refresh_token(tag, _text(current))) if current else None
    )
    record = _decoded(raw)
    if record is None:
        raise invalid_token()
    if rt.clock() < retired["grace"]:
        return await _use(rt, record, cmd, rotate=False)
    # Stricter than FusionAuth on purpose: a replayed one-time value revokes
    # the whole token whatever onOneTimeTokenReuse says (issue #4).
    await revoke(rt, record["userId"], [record], reason="oneTimeTokenReused")
    raise invalid_token()


async def _use(rt: Runtime, record: Token, cmd: Exchange, *, rotate: bool) -> Exchanged:
    now = rt.clock()
    if record["expiresAt"] <= now:
        raise invalid_token()
    # A value rotated by a racing refresh since its record was read is read
    # again, so it takes the rotated-out path (grace period or reuse).
    version, doc, live = await owner(rt, record, rotated_ok=not rotate)
    if doc is None or not live or not doc.get("active", True):
        raise invalid_token()
    application = find_application(rt, record["applicationId"])
    if application is None:
        raise invalid_token()
    if not (application.get("loginConfiguration") or {}).get("allowTokenRefresh"):
        raise field_error(
            "refreshToken", "disabled", "Refreshing tokens is disabled for this app."
        )
    config = jwt_settings(rt, application)
    ttl = _access_ttl(config, cmd.ttl_seconds)

    value = cmd.refresh_token
    one_time = rotate and config.get("refreshTokenUsagePolicy") == "OneTimeUse"
    if one_time:
        value = f"{cmd.refresh_token[:2]}{secrets.token_urlsafe(48)}"
    used = next_record(record, config, now, digest(value), cmd.ip_address)
    if used != record:
        grace = int(
            (config.get("refreshTokenOneTimeUseConfiguration") or {}).get(
                "gracePeriodInSeconds"
            )
            or 0
        )
        event = RefreshTokenUsed(
            doc["id"], record["id"], record["digest"], used, now + grace * 1000
        )
        await commit_user(rt, doc["id"], version, doc, [event])
    issued = access_token(
        rt,
        doc,
        record["applicationId"],
        application,
        "REFRESH_TOKEN",
        auth_time=record["authTime"],
        sid=record["id"],
        ttl_seconds=ttl,
    )
    body = {"token": issued.token, "refreshToken": value, "refreshTokenId": used["id"]}
    return Exchanged(body, max(1, (used["expiresAt"] - now) // 1000))


def _access_ttl(config: dict[str, Any], requested: int | None) -> int | None:
    configured = int(config.get("timeToLiveInSeconds") or 3600)
    if requested is not None and not 0 < requested <= configured:
        raise field_error(
            "timeToLiveInSeconds",
            "invalid",
            "The 'timeToLiveInSeconds' must be between 1 and the configured TTL.",
        )
    return requested


def next_record(
    record: Token, config: dict[str, Any], now: int, new_digest: str, ip: str | None
) -> Token:
    """
    The token after one use; equal to ``record`` when nothing needs recording.
    """
    policy = config.get("refreshTokenExpirationPolicy") or "Fixed"
    if policy == "Fixed" and new_digest == record["digest"]:
        return record
    minutes = int(config.get("refreshTokenTimeToLiveInMinutes") or 43200)
    updated = {**record, "digest": new_digest}
    if policy in ("SlidingWindow", "SlidingWindowWithMaximumLifetime"):
        updated["startInstant"] = now
        updated["expiresAt"] = now + minutes * MINUTE_MS
    if policy == "SlidingWindowWithMaximumLifetime":
        window = config.get("refreshTokenSlidingWindowConfiguration") or {}
        maximum = int(window.get("maximumTimeToLiveInMinutes") or 43200)
        cap = record["insertInstant"] + maximum * MINUTE_MS
        updated["expiresAt"] = min(updated["expiresAt"], cap)
    device = dict((record.get("metaData") or {}).get("device") or {})
    device["lastAccessedInstant"] = now
    if ip:
        device["lastAccessedAddress"] = ip
    updated["metaData"] = {**(record.get("metaData") or {}), "device": device}
    return updated
