"""
Event envelopes and their msgpack encoding.

An event's stored type is its ``TYPE`` string, never a class path, and it
carries its schema ``VERSION``; an upcaster registered for ``(TYPE, n)`` turns
version n into n + 1 on read, so old streams fold with today's code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import msgpack


class Event(Protocol):
    """
    A domain event: a frozen dataclass with a stable ``TYPE`` and ``VERSION``.
    """

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


@dataclass(frozen=True, slots=True)
class Envelope:
    """
    An event as stored: which aggregate, its sequence number there, and when.
    """

    event: Any
    aggregate: str
    sequence: int
    at: int
    entry_id: str = ""

    @property
    def type(self) -> str:
        return str(self.event.TYPE)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_TYPES: dict[str, type[Any]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventType(Exception):
    """
    A stored event names a type this code does not know.
    """


def register(classes: Iterable[type[Any]]) -> None:
    """
    Make event classes decodable by their ``TYPE``.
    """
    for cls in classes:
        known = _TYPES.setdefault(cls.TYPE, cls)
        if known is not cls:
            raise ValueError(f"Event type '{cls.TYPE}' is registered twice.")


def register_upcaster(type_: str, from_version: int, upcaster: Upcaster) -> None:
    _UPCASTERS[(type_, from_version)] = upcaster


def event_data(event: Any) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


def encode(envelope: Envelope) -> bytes:
    event = envelope.event
    record = {
        "t": event.TYPE,
        "sv": event.VERSION,
        "a": envelope.aggregate,
        "n": envelope.sequence,
        "at": envelope.at,
        "d": event_data(event),
    }
    packed: bytes = msgpack.packb(record, use_bin_type=True)
    return packed


def decode(raw: bytes, entry_id: str = "") -> Envelope:
    record = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    type_, version, data = record["t"], record["sv"], record["d"]
    cls = _TYPES.get(type_)
    if cls is None:
        raise UnknownEventType(f"Event type '{type_}' is not known to this version.")
    while version < cls.VERSION:
        data = _UPCASTERS[(type_, version)](data)
        version += 1
    return Envelope(cls(**data), record["a"], record["n"], record["at"], entry_id)


def registered_types() -> dict[str, type[Any]]:
    return dict(_TYPES)
