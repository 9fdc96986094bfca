"""
Starting what is measured: ``loginsvc serve`` as shipped, and the load process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0


def clean_env(**extra: str) -> dict[str, str]:
    """
    This environment without loginsvc settings, plus ``extra``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGINSVC_")}
    env.pop("FUSIONAUTH_APP_KICKSTART_FILE", None)
    return {**env, **extra}


@dataclass
class Service:
    """
    One ``loginsvc serve`` on 127.0.0.1 with its embedded Redis in a temp dir.
    """

    workers: int
    parent: Path
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    folder: Path = Path()

    def __post_init__(self) -> None:
        # Short: the Redis socket path must fit in a sockaddr_un.
        self.folder = Path(tempfile.mkdtemp(prefix="s", dir=self.parent))

    @property
    def redis_socket(self) -> Path:
        return self.folder / "data" / "redis.sock"

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"

    def start(self, kickstart: Path) -> None:
        command = [
            sys.executable, "-m", "loginsvc", "serve", "--port", "0",
            "--data-dir", str(self.folder / "data"), "--workers", str(self.workers),
            "--kickstart", str(kickstart),
        ]  # fmt: skip
        with self.log.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=clean_env(**self.env), stderr=stderr
            )
        self.url = self._wait_for(r"service_started url=(\S+)")

    def _wait_for(self, pattern: str) -> str:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.log.read_text()):
                return found[1]
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"loginsvc did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def run_load(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """
    Run one bounded load in a separate process; its JSON summary.
    """
    path = folder / f"spec-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    limit = spec["duration_s"] * 3 + 30
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=limit,
        check=True,
    )
    path.unlink()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def start_load(spec: dict[str, Any], folder: Path) -> subprocess.Popen[str]:
    """
    Start a load process without waiting; read its stdout when it exits.
    """
    path = folder / f"spec-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, "-m", "bench.load", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
