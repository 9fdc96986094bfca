"""
The collector's pace during long runs over the log, and its restoration.
"""

from __future__ import annotations

import gc

import pytest

from projections.collector import YOUNG_THRESHOLD, rare_collections


def test_the_young_threshold_is_raised_inside_and_restored_after_a_failure() -> None:
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), rare_collections():
        assert (YOUNG_THRESHOLD, *before[1:]) == gc.get_threshold()
        raise RuntimeError

    assert before == gc.get_threshold()
