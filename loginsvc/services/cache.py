"""
The in-memory system cache: folds the ``{sys}`` stream into ``rt.system``
and keeps the key ring in step with the signing keys it holds.

Another worker's change reaches this process within one tail interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.exceptions import RedisError

from events import system
from events.codec import Envelope
from events.store import later
from loginsvc import keys, totp
from loginsvc.runtime import Runtime
from loginsvc.signing import SigningKey

logger = logging.getLogger(__name__)

TAIL_BLOCK_MS = 500


def apply_system(rt: Runtime, envelopes: Iterable[Envelope]) -> None:
    """
    Fold ``{sys}`` events into this process's cache, each at most once.
    """
    for envelope in envelopes:
        if not rt.system.apply(envelope):
            continue
        if envelope.entry_id:
            rt.system.last_entry_id = later(rt.system.last_entry_id, envelope.entry_id)
        event = envelope.event
        if isinstance(event, system.SigningKeyGenerated):
            rt.keyring.add(signing_key_from_doc(rt, event.key))
        elif isinstance(event, system.SigningKeyDeleted):
            rt.keyring.remove(envelope.aggregate.partition(":")[2])


def signing_key_from_doc(rt: Runtime, doc: dict[str, object]) -> SigningKey:
    """
    A usable key from its stored form, whose secret parts are sealed.
    """
    secret = doc.get("secret")
    private = doc.get("privateKey")
    return SigningKey(
        id=str(doc["id"]),
        kid=str(doc["kid"]),
        algorithm=str(doc["algorithm"]),
        name=str(doc.get("name", "")),
        insert_instant=int(doc.get("insertInstant", 0)),  # type: ignore[call-overload]
        secret=totp.unseal(str(secret), rt.server_key) if secret else None,
        private_pem=totp.unseal(str(private), rt.server_key) if private else None,
        public_pem=str(doc["publicKey"]) if doc.get("publicKey") else None,
    )


async def catch_up(rt: Runtime) -> None:
    """
    Fold every ``{sys}`` event this process has not seen yet.
    """
    while True:
        page = await rt.events.read(keys.SYSTEM_TAG, rt.system.last_entry_id, 1000)
        apply_system(rt, page)
        if page:
            rt.system.last_entry_id = later(rt.system.last_entry_id, page[-1].entry_id)
        if len(page) < 1000:
            return


async def follow(rt: Runtime, stop: asyncio.Event) -> None:
    """
    Tail the ``{sys}`` stream until ``stop`` is set.

    The flag, not only cancellation, ends the loop: redis-py can swallow a
    cancel that lands as a blocking XREAD starts (redis/redis-py#2028).
    """
    while not stop.is_set():
        try:
            found = await rt.events.tail(
                keys.SYSTEM_TAG, rt.system.last_entry_id, TAIL_BLOCK_MS
            )
            apply_system(rt, found)
            if found:
                rt.system.last_entry_id = later(
                    rt.system.last_entry_id, found[-1].entry_id
                )
        except asyncio.CancelledError:
            raise
        except RedisError as error:
            logger.warning("system_tail_failed error=%s", type(error).__name__)
            await asyncio.sleep(1)
