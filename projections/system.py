"""
The system read model: applications, API keys, the tenant, user-action
definitions and signing keys, folded from the ``{sys}`` stream.

Every process keeps one ``SystemState`` in memory and folds new ``{sys}``
events into it, so the hot path reads applications and keys without Redis.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from events import system
from events.codec import Envelope

Doc = dict[str, Any]


def evolve(doc: Doc | None, envelope: Envelope) -> Doc | None:
    """
    A system aggregate's document after one event; ``None`` once deleted.
    """
    event = envelope.event
    match event:
        case system.ApplicationCreated() | system.ApplicationUpdated():
            return copy.deepcopy(event.application)
        case system.ApiKeyCreated():
            return {
                "id": event.key_id,
                "digest": event.digest,
                "description": event.description,
                "tenantId": event.tenant_id,
                "permissions": copy.deepcopy(event.permissions),
                "insertInstant": envelope.at,
            }
        case system.TenantUpdated():
            return copy.deepcopy(event.tenant)
        case system.UserActionDefined():
            return copy.deepcopy(event.user_action)
        case system.SigningKeyGenerated():
            return copy.deepcopy(event.key)
        case (
            system.ApplicationDeleted()
            | system.ApiKeyDeleted()
            | system.UserActionDefinitionDeleted()
            | system.SigningKeyDeleted()
        ):
            return None
    return doc


def split_aggregate(aggregate: str) -> tuple[str, str]:
    kind, _, ident = aggregate.partition(":")
    return kind, ident


@dataclass
class SystemState:
    """
    Every system aggregate by kind and id, with the version of each.
    """

    docs: dict[str, dict[str, Doc]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    last_entry_id: str = "0-0"

    def apply(self, envelope: Envelope) -> bool:
        """
        Fold one event in, once: an event at or below the known version is skipped.
        """
        if envelope.sequence <= self.versions.get(envelope.aggregate, 0):
            return False
        kind, ident = split_aggregate(envelope.aggregate)
        bucket = self.docs.setdefault(kind, {})
        new = evolve(bucket.get(ident), envelope)
        if new is None:
            bucket.pop(ident, None)
        else:
            bucket[ident] = new
        self.versions[envelope.aggregate] = envelope.sequence
        return True

    def get(self, kind: str, ident: str) -> Doc | None:
        return self.docs.get(kind, {}).get(ident)

    def all(self, kind: str) -> list[Doc]:
        return list(self.docs.get(kind, {}).values())

    def version(self, kind: str, ident: str) -> int:
        return self.versions.get(f"{kind}:{ident}", 0)
