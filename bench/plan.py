"""
How long and how hard each phase runs: the full run and the ``--quick`` smoke.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    """
    Sizes and durations of one benchmark run.
    """

    runs: int = 3
    seconds: float = 3.0
    users: int = 1000
    #: Two-factor users per run: each completes one login per run.
    two_factor_users: int = 600
    #: Refresh tokens issued for the logout runs, per run.
    logout_tokens: int = 1500
    login_concurrency: int = 16
    cheap_concurrency: int = 64
    overload_concurrency: int = 400
    monitor_requests: int = 20
    scale_users: int = 1_000_000
    cores: int = os.cpu_count() or 1


FULL = Plan()
QUICK = Plan(
    runs=1,
    seconds=0.5,
    users=20,
    two_factor_users=20,
    logout_tokens=60,
    overload_concurrency=100,
    monitor_requests=3,
    scale_users=2000,
)
