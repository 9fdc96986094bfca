"""
Projection writes beyond an aggregate's own document: counters, login
history and TTL keys, spelled per event type.

Each writer is pure: ``(tag, envelope, now_ms) -> [Op]``. The live append and
``rebuild`` call the same writers, so both produce the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from events.codec import Envelope
from events.store import Op

Writer = Callable[[str, Envelope, int], list[Op]]

_WRITERS: dict[str, list[Writer]] = {}


def writes_for(type_: str) -> Callable[[Writer], Writer]:
    """
    Register a writer for one event type.
    """

    def register(writer: Writer) -> Writer:
        _WRITERS.setdefault(type_, []).append(writer)
        return writer

    return register


def side_ops(tag: str, envelopes: Iterable[Envelope], now_ms: int) -> list[Op]:
    ops: list[Op] = []
    for envelope in envelopes:
        for writer in _WRITERS.get(envelope.type, ()):
            ops.extend(writer(tag, envelope, now_ms))
    return ops
