from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.
# ruff: noqa: SIM300

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "deploy" / "kickstart" / "demo.json"
DEMO_KEY = json.loads(DEMO.read_text())["variables"]["apiKey"]


def loginsvc(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loginsvc", *args],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def clean_env() -> dict[str, str]:
    """
    The test's environment without any loginsvc or FusionAuth settings.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOGINSVC_", "FUSIONAUTH_"))
    }
    env["LOGINSVC_HASH_PROFILE"] = "cheapest"
    return env


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_line(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> str:
    """
    The first match of ``pattern`` in the log, waiting up to 60 s for it.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if found := re.search(pattern, log.read_text()):
            return found[1]
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} never logged:\n{log.read_text()}")


def stop_orphaned_redis(log: Path) -> None:
    """
    After a failed test killed ``serve``, stop the redis-server it started.
    """
    for pid in re.findall(r"redis_started pid=(\d+)", log.read_text()):
        if is_running(int(pid)):
            os.kill(int(pid), signal.SIGTERM)


def request(url: str, body: object = None, key: str | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = key
    data = None if body is None else json.dumps(body).encode()
    # A loopback http:// URL this test started, never a file: or custom scheme.
    prepared = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_help_lists_the_serve_command():
    """
    ``loginsvc --help`` succeeds and names its subcommands.
    """
    result = loginsvc("--help")

    assert 0 == result.returncode
    assert "serve" in result.stdout


def test_serve_help_documents_every_option():
    """
    ``loginsvc serve --help`` lists host, port, data dir, kickstart and workers.
    """
    result = loginsvc("serve", "--help")

    assert 0 == result.returncode
    for option in ("--host", "--port", "--data-dir", "--kickstart", "--workers"):
        assert option in result.stdout


def test_serve_with_a_missing_kickstart_file_fails_with_one_line(tmp_path):
    """
    The file is read before anything starts, and the error names it.
    """
    result = loginsvc("serve", "--kickstart", str(tmp_path / "absent.json"))

    assert 1 == result.returncode
    assert 1 == len(result.stderr.splitlines())
    assert "serve_failed reason=The kickstart file" in result.stderr
    assert "absent.json' was not found." in result.stderr


def test_serve_with_a_data_dir_that_cannot_be_created_fails_with_one_line(tmp_path):
    """
    A data directory under a regular file is named in one line, no traceback.
    """
    (tmp_path / "afile").write_text("")
    data_dir = tmp_path / "afile" / "data"

    result = loginsvc("serve", "--port", "0", "--data-dir", str(data_dir))

    assert 1 == result.returncode
    assert 1 == len(result.stderr.splitlines())
    assert f"The data directory '{data_dir}' cannot be used" in result.stderr


@pytest.mark.redis
def test_a_failing_kickstart_request_stops_serve_and_redis(tmp_path):
    """
    The failing request is named on one line, and the embedded Redis stops.
    """
    kickstart = tmp_path / "kickstart.json"
    kickstart.write_text(
        json.dumps(
            {
                "apiKeys": [{"key": "a-kickstart-test-key-0123456789"}],
                "requests": [
                    {"method": "POST", "url": "/api/application", "body": {}},
                    {"method": "POST", "url": "/api/user", "body": {}},
                ],
            }
        )
    )

    result = loginsvc(
        "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
        "--kickstart", str(kickstart),
    )  # fmt: skip

    failures = [
        line for line in result.stderr.splitlines() if "kickstart_failed" in line
    ]
    redis_pid = int(re.findall(r"redis_started pid=(\d+)", result.stderr)[0])

    assert 1 == result.returncode
    assert 1 == len(failures)
    assert (
        "Kickstart request 0 (POST /api/application) failed: status 400" in failures[0]
    )
    assert "a-kickstart-test-key" not in result.stderr
    assert "index=1" not in result.stderr
    assert False is is_running(redis_pid)


@pytest.mark.redis
def test_serve_kickstarts_serves_and_exits_cleanly_on_sigterm(tmp_path):
    """
    Two workers answer after the demo kickstart; SIGTERM stops them and Redis.
    """
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "loginsvc", "serve", "--port", "0",
                "--data-dir", str(tmp_path / "data"), "--workers", "2",
                "--kickstart", str(DEMO),
            ],
            cwd=ROOT,
            env=clean_env(),
            stderr=stderr,
        )  # fmt: skip
    try:
        url = wait_for_line(log, r"service_started url=(\S+) workers=2", process)
        status = request(f"{url}/api/status")
        login = request(
            f"{url}/api/login",
            {
                "loginId": "admin@example.com",
                "password": "demo-password-change-me",
                "applicationId": "5c0e1a43-7d2b-4f8e-9a61-2b3c4d5e6f70",
            },
            key=DEMO_KEY,
        )
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            stop_orphaned_redis(log)

    text = log.read_text()
    pids = [
        int(pid) for pid in re.findall(r"(?:redis|worker)_started .*pid=(\d+)", text)
    ]

    assert (200, 200) == (status, login)
    assert 0 == returncode, text
    assert 3 == len(pids)
    assert [False] * 3 == [is_running(pid) for pid in pids]
    assert "kickstart_completed requests=2" in text
    assert DEMO_KEY not in text
