"""
``python -m bench``: start the service as shipped, load it from a separate
process over loopback and print one table; ``--quick`` is a seconds-long smoke.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from bench import phases, rows
from bench.plan import FULL, QUICK
from bench.report import header, table

NOTES = """
Notes: each figure is the median of {runs} run(s) of {seconds:g} s from one
invocation; ratios use denominators measured in the same invocation, H2 taking
turns with the logins and C2 with the cheap endpoints run by run. The load
generator is one aiohttp client process on the same {cores} cores, for the
service and for C2 alike. Users were created through the API
(`POST /api/user/registration`, real argon2 hashes). Redis cmds/req are the
top-level commands the embedded redis-server's MONITOR saw per request (commands
a Lua script runs are excluded; the EVALSHA counts once); pipelined commands
share one round trip, which tests/api/test_round_trips.py counts exactly.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke")
    parser.add_argument("--scale", action="store_true", help="add 1,000,000 users")
    parser.add_argument("--peer", action="store_true", help="measure FastAPI Users")
    parser.add_argument("--write", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    top = header(shown)

    folder = Path(tempfile.mkdtemp(prefix="loginsvc-bench-"))
    try:
        logins = asyncio.run(phases.password_phase(plan, folder, args.scale))
        cheap = asyncio.run(phases.cheap_phase(plan, folder))
        peer = None
        if args.peer:
            from bench.peer import measure_peer

            peer = measure_peer(plan, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    base = {"h2": logins["h2"], "hash_ms": logins["hash_ms"], "c2": cheap["c2"]}
    measured = [
        *rows.login_rows(logins, base),
        *rows.load_rows(logins, base),
        *rows.cheap_rows(cheap, base),
        *rows.scale_rows(logins, plan, args.scale),
        *rows.peer_rows(peer, logins["good"]),
    ]
    notes = NOTES.format(runs=plan.runs, seconds=plan.seconds, cores=plan.cores)
    text = f"{top}\n\n{table(measured)}\n{notes}"
    print(text)
    if args.write:
        args.write.write_text(f"# Benchmark results (issue #6)\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
