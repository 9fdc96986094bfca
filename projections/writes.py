"""
Projection writes beyond an aggregate's own document: counters, login
history and TTL keys, spelled per event type.

Each writer is pure. Most take one event, ``(tag, envelope, now_ms) -> [Op]``;
a run writer takes a run of consecutive events of its type,
``(tag, envelopes, now_ms) -> [Op]``, and must leave the keys as running each
event's writes in turn would, with fewer writes. The live append and
``rebuild`` call the same writers through ``side_ops``, so both produce the
same keys: an append hands a run writer its one or two events, a rebuild a
page of them. Two writers of one type must not write the same key: a run is
written writer by writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from events.codec import Envelope
from events.store import Op

Writer = Callable[[str, Envelope, int], list[Op]]
RunWriter = Callable[[str, Sequence[Envelope], int], list[Op]]

_WRITERS: dict[str, list[RunWriter]] = {}


def writes_for(type_: str) -> Callable[[Writer], Writer]:
    """
    Register a writer for one event of type ``type_``.
    """

    def register(writer: Writer) -> Writer:
        def run(tag: str, envelopes: Sequence[Envelope], now_ms: int) -> list[Op]:
            return [op for e in envelopes for op in writer(tag, e, now_ms)]

        run.__module__ = writer.__module__
        _WRITERS.setdefault(type_, []).append(run)
        return writer

    return register


def writes_for_runs(type_: str) -> Callable[[RunWriter], RunWriter]:
    """
    Register a writer for runs of consecutive events of type ``type_``.
    """

    def register(writer: RunWriter) -> RunWriter:
        _WRITERS.setdefault(type_, []).append(writer)
        return writer

    return register


def side_ops(tag: str, envelopes: Iterable[Envelope], now_ms: int) -> list[Op]:
    """
    The writes of ``envelopes`` in order, each run of one type written at once.

    Events of a type without writers write nothing, so they do not end a run.
    """
    ops: list[Op] = []
    run: list[Envelope] = []
    run_type = ""
    for envelope in envelopes:
        type_ = envelope.event.TYPE
        if type_ == run_type:
            run.append(envelope)
        elif type_ in _WRITERS:
            if run:
                _write_run(tag, run_type, run, now_ms, ops)
            run, run_type = [envelope], type_
    if run:
        _write_run(tag, run_type, run, now_ms, ops)
    return ops


def _write_run(
    tag: str, type_: str, run: list[Envelope], now_ms: int, ops: list[Op]
) -> None:
    for writer in _WRITERS[type_]:
        ops.extend(writer(tag, run, now_ms))
