"""
Throwaway redis-server processes on 127.0.0.1 for the cluster and Sentinel
tests: started in a temp dir, stopped (and the dir removed) by ``close``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port


class Servers:
    """
    redis-server processes this test started; ``close`` stops every one.
    """

    def __init__(self, prefix: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; run scripts/setup")
        self.binary = binary
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, config: str | None = None) -> int:
        """
        One more server on a free port; returns the port once PING answers.
        """
        port = free_port()
        home = self.folder / str(port)
        home.mkdir()
        command = [self.binary]
        if config is not None:
            conf = home / "redis.conf"
            conf.write_text(config)
            command.append(str(conf))
        command += ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(home)]
        command += ["--save", "", "--appendonly", "no", *args]
        with (home / "log").open("wb") as log:
            self.procs.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            )
        self.wait(port, "PING", "PONG")
        return port

    def cli(self, *args: str, timeout: float = 20) -> str:
        done = subprocess.run(
            ["redis-cli", *args], capture_output=True, timeout=timeout, check=False
        )
        return done.stdout.decode() + done.stderr.decode()

    def wait(self, port: int, command: str, expected: str, seconds: float = 15) -> str:
        """
        Ask ``command`` every 50 ms until the answer contains ``expected``.
        """
        deadline = time.monotonic() + seconds
        answer = ""
        while time.monotonic() < deadline:
            answer = self.cli("-h", "127.0.0.1", "-p", str(port), *command.split())
            if expected in answer:
                return answer
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.05)
        logs = "".join(p.read_text()[-500:] for p in self.folder.glob("*/log"))
        self.close()
        pytest.fail(f"{port}: {command!r} never gave {expected!r}: {answer}\n{logs}")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
