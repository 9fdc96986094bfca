"""
From measurements to the table's rows, each with its ratio and target.
"""

from __future__ import annotations

from typing import Any

from bench.plan import Plan
from bench.report import Row


def _ratio(value: float, base: float, label: str) -> str:
    return f"{value / base:.2f} × {label}" if base else ""


def _redis(found: dict[str, Any]) -> str:
    return f"{found['redis']:.1f}" if "redis" in found else ""


def login_rows(m: dict[str, Any], base: dict[str, Any]) -> list[Row]:
    h2 = base["h2"]
    good = m["good"]
    rows = [
        Row("H2: argon2id verifies, PasswordHasher on every core", h2,
            note=f"one verify {base['hash_ms']:.1f} ms"),
        Row("Password login (JWT + refresh token)", **_lat(good),
            ratio=_ratio(good["per_s"], h2, "H2"), target="≥ 0.95 × H2",
            met=good["per_s"] >= 0.95 * h2, redis=_redis(good),
            note=_statuses(good)),
        Row("Password login, noJWT", **_lat(m["noJWT"]),
            ratio=_ratio(m["noJWT"]["per_s"], h2, "H2"),
            target="not slower (≥ 0.95 × login)",
            met=m["noJWT"]["per_s"] >= 0.95 * good["per_s"],
            redis=_redis(m["noJWT"]), note=_statuses(m["noJWT"])),
    ]  # fmt: skip
    for key, name in (("wrong", "Wrong password"), ("unknown", "Unknown user")):
        found = m[key]
        rows.append(
            Row(name, **_lat(found), ratio=_ratio(found["per_s"], h2, "H2"),
                target="within 10% of login",
                met=abs(found["per_s"] / good["per_s"] - 1) <= 0.10,
                redis=_redis(found), note=_statuses(found))
        )  # fmt: skip
    return rows


def load_rows(m: dict[str, Any], base: dict[str, Any]) -> list[Row]:
    probe = m["status_under_load"]["probe"]
    fixed = m["fixed_rate"]
    over = m["overload"]
    bound = 3 * base["hash_ms"]
    counts = over["statuses"]
    total = sum(counts.values()) or 1
    shed = counts.get("503", 0) / total
    timeouts = counts.get("timeout", 0)
    p99_shed = over["p99_503_ms"]
    return [
        Row("GET /api/status at 100/s while logins saturate hashing",
            **_lat(probe), target="p99 ≤ 5 ms", met=probe["p99_ms"] <= 5,
            note=f"logins meanwhile {m['status_under_load']['logins']['per_s']:.0f}/s"),
        Row("Login at a fixed rate of H2 / 2", **_lat(fixed),
            target=f"p99 ≤ 3 × one hash ({bound:.0f} ms)",
            met=fixed["p99_ms"] <= bound, note=_statuses(fixed)),
        Row("Overload: logins far beyond the queue", **_lat(over),
            target="fast 503 + Retry-After, no timeouts",
            met=timeouts == 0 and shed > 0 and over["retry_after"] > 0,
            note=f"{shed:.0%} answered 503, p99 of 503s "
                 f"{(p99_shed or 0):.1f} ms, {timeouts} timeouts"),
    ]  # fmt: skip


def cheap_rows(m: dict[str, Any], base: dict[str, Any]) -> list[Row]:
    c2 = base["c2"]["per_s"]
    rows = [Row("C2: bare aiohttp JSON POST, one process per core", **_lat(base["c2"]))]
    wanted = (
        ("login", "Login, cheapest hash profile", 0.15),
        ("refresh", "Refresh (POST /api/jwt/refresh)", 0.20),
        ("ping", "Login ping (PUT /api/login)", 0.30),
        ("logout", "Logout (POST /api/logout)", 0.30),
        ("two_factor", "Two-factor login, second step", 0.15),
    )
    for key, name, share in wanted:
        found = m[key]
        rows.append(
            Row(name, **_lat(found), ratio=_ratio(found["per_s"], c2, "C2"),
                target=f"≥ {share:.2f} × C2", met=found["per_s"] >= share * c2,
                redis=_redis(found), note=_statuses(found))
        )  # fmt: skip
    return rows


def scale_rows(m: dict[str, Any], plan: Plan, scaled: bool) -> list[Row]:
    memory = m["memory"]
    rows = [
        Row(f"Login, one in flight, {plan.users:,} users", **_lat(m["light_1k"]),
            note=f"Redis {memory['user_bytes']:.0f} B/user, "
                 f"{memory['event_bytes']:.0f} B/event ({memory['events']:,} events)"),
    ]  # fmt: skip
    if not scaled:
        rows.append(Row(f"Login, {plan.scale_users:,} users", note="run with --scale"))
        return rows
    light, large = m["light_1k"], m["light_1m"]
    rows.append(
        Row(f"Login, one in flight, {plan.users + plan.scale_users:,} users",
            **_lat(large), target="same as with 1,000 within noise (p50 ≤ 1.2×)",
            met=large["p50_ms"] <= 1.2 * light["p50_ms"],
            note=f"loaded in {m['scale_load_s']:.0f} s; they share one "
                 "precomputed hash; used_memory "
                 f"{m['memory_1m']['used_memory'] / 2**20:,.0f} MiB")
    )  # fmt: skip
    return rows


def peer_rows(peer: dict[str, Any] | None, good: dict[str, Any]) -> list[Row]:
    if peer is None:
        return [Row("FastAPI Users login (one uvicorn worker)", note="run with --peer")]
    if "error" in peer:
        return [Row("FastAPI Users login (one uvicorn worker)", note=peer["error"])]
    return [
        Row("FastAPI Users login (one uvicorn worker)", **_lat(peer),
            ratio=f"{good['per_s'] / peer['per_s']:.2f} × (ours / theirs)",
            target="ours ≥ 1.8 × theirs",
            met=good["per_s"] >= 1.8 * peer["per_s"], note=_statuses(peer)),
    ]  # fmt: skip


def _lat(found: dict[str, Any]) -> dict[str, Any]:
    return {k: found[k] for k in ("per_s", "p50_ms", "p99_ms")}


def _statuses(found: dict[str, Any]) -> str:
    counts = found.get("statuses") or {}
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
