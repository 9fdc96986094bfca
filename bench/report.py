"""
The one table a run prints, and the header that says where it ran.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass


@dataclass(slots=True)
class Row:
    """
    One measured line: a rate or latency, its ratio and target, and Redis cost.
    """

    name: str
    per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    redis: str = ""
    note: str = ""


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| measure | per s | p50 ms | p99 ms | ratio | target | met | "
        "Redis cmds/req | note |",
        "|---|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.name} | {_num(row.per_s)} | {_num(row.p50_ms, 1)} | "
            f"{_num(row.p99_ms, 1)} | {row.ratio} | {row.target} | {met} | "
            f"{row.redis} | {row.note} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(args: str) -> str:
    """
    Date, cores, CPU model and load average, taken when the run starts.
    """
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- date: {now}\n- nproc: {os.cpu_count()}\n- CPU: {cpu_model()}\n"
        f"- load average at start: {load}\n- command: `python -m bench {args}`"
    )
