"""
``python -m bench --quick`` runs end to end and prints every row of its table.

No timing is asserted: the smoke run is too short to measure anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    "H2: argon2id verifies",
    "Password login (JWT + refresh token)",
    "Password login, noJWT",
    "Wrong password",
    "Unknown user",
    "GET /api/status at 100/s while logins saturate hashing",
    "Login at a fixed rate of H2 / 2",
    "Overload: logins far beyond the queue",
    "C2: bare aiohttp JSON POST",
    "Login, cheapest hash profile",
    "Refresh (POST /api/jwt/refresh)",
    "Login ping (PUT /api/login)",
    "Logout (POST /api/logout)",
    "Two-factor login, second step",
    "Login, one in flight, 20 users",
    "Login, 2,000 users",
    "FastAPI Users login",
]


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_bench_prints_every_row_of_the_table():
    """
    One quick run: every measure has its row, with the run's header above.
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    missing = [row for row in ROWS if not any(row in line for line in table)]

    assert 0 == done.returncode, done.stderr[-3000:]
    assert [] == missing, done.stdout
    assert "- nproc: " in done.stdout
    assert "- load average at start: " in done.stdout


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_event_log_bench_measures_rebuild_and_replay(tmp_path: Path) -> None:
    """
    A small log through the real CLI: both rows, with the memory of every
    process of the command summed (a rebuild's workers included).
    """
    out = tmp_path / "EVENTLOG.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.eventlog",
            *("--users", "40", "--per-user", "10", "--runs", "1", "--out", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )

    assert 0 == done.returncode, done.stderr[-3000:]
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in out.read_text().splitlines()
        if line.startswith("| re")
    }
    assert {"rebuild", "replay"} == set(rows)
    for runs, _seconds, _rate, rss_mb in rows.values():
        assert "1" == runs
        assert int(rss_mb) > 10
    assert "- log: 400 events" in out.read_text()
