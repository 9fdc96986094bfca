"""
``--peer``: FastAPI Users on the same login load, in a virtualenv of its own.

The virtualenv lives under the system temp dir and is never committed; it is
made with pip from PyPI on first use. If that fails, the row says so.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import seed, stats
from bench.baselines import free_port, wait_listening
from bench.plan import Plan
from bench.service import ROOT, clean_env, run_load

VENV = Path(tempfile.gettempdir()) / "loginsvc-bench-peer"
PACKAGES = ["fastapi-users[sqlalchemy]", "aiosqlite", "uvicorn"]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PACKAGES],
            check=True,
            timeout=600,
        )
    return python


def measure_peer(plan: Plan, folder: Path) -> dict[str, Any]:
    """
    Logins/s and latency of FastAPI Users' JWT login, or why it was not run.
    """
    try:
        python = ensure_venv()
    except (subprocess.SubprocessError, OSError) as error:
        return {"error": f"not installable here: {type(error).__name__}"}
    port = free_port()
    env = clean_env(
        PEER_USERS=str(plan.users),
        PEER_DATABASE=f"sqlite+aiosqlite:///{folder / 'peer.db'}",
        PYTHONPATH=str(ROOT),
    )
    server = subprocess.Popen(
        [str(python), "-m", "uvicorn", "bench.peer_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning",
         "--no-access-log"],
        cwd=folder,
        env=env,
    )  # fmt: skip
    try:
        wait_listening(port)
        time.sleep(0.5)
        return _logins(plan, folder, port)
    finally:
        server.terminate()
        server.wait(30)


def _logins(plan: Plan, folder: Path, port: int) -> dict[str, Any]:
    requests = [
        ["POST", "/auth/jwt/login",
         urlencode({"username": seed.email(i), "password": seed.PASSWORD})]
        for i in range(plan.users)
    ]  # fmt: skip
    spec = {
        "url": f"http://127.0.0.1:{port}",
        "requests": requests,
        "duration_s": plan.seconds,
        "concurrency": plan.login_concurrency,
        "rate": None,
        "max_requests": 10**9,
        "headers": {},
    }
    runs = [run_load(spec, folder) for _ in range(plan.runs)]
    result: dict[str, Any] = stats.median_of(runs)
    result["statuses"] = stats.status_counts(runs)
    return result
