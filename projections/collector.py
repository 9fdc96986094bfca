"""
The cyclic garbage collector's pace for long runs over the event log: the
event-log commands (``loginsvc.cli_eventlog``) and rebuild's worker processes
run under it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two young-generation collections (Python's default: 700).
YOUNG_THRESHOLD = 50_000


@contextmanager
def rare_collections() -> Iterator[None]:
    """
    Collect every 50,000 allocations instead of every 700 while the block runs.

    A fold or a replay allocates millions of short-lived records that
    reference counting frees, while what it keeps (a partition's keyspace, a
    page per partition) grows: at the default pace the collector walks that
    again and again, a sixth to a fifth of the run. Neither builds cycles, so
    the rarer collections find the same garbage.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
