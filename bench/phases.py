"""
The measured phases: the denominators, the service on its production hash
profile, and the service on the cheapest profile.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyotp

from bench import seed, stats
from bench.baselines import bare_server, hash_rate
from bench.plan import Plan
from bench.service import Service, run_load, start_load
from loginsvc.config import OWASP_MINIMUM

Request = list[Any]
API = {"Authorization": seed.API_KEY}


def spec(
    url: str,
    requests: list[Request],
    seconds: float,
    *,
    concurrency: int = 1,
    rate: float | None = None,
    max_requests: int = 10**9,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "url": url,
        "requests": requests,
        "duration_s": seconds,
        "concurrency": concurrency,
        "rate": rate,
        "max_requests": max_requests,
        "headers": headers or {},
    }


def login_body(login_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "loginId": login_id,
        "password": seed.PASSWORD,
        "applicationId": seed.APPLICATION_ID,
        **extra,
    }


async def sequential(
    url: str, requests: list[Request], headers: dict[str, str] | None = None
) -> None:
    """
    Send requests one at a time, for counting what each one costs Redis.
    """
    async with aiohttp.ClientSession() as session:
        for method, path, body in requests:
            async with session.request(
                method, url + path, json=body, headers=headers
            ) as response:
                await response.read()


async def redis_cost(
    service: Service, requests: list[Request], headers: dict[str, str] | None = None
) -> float:
    return await stats.commands_per_request(
        service.redis_socket,
        len(requests),
        lambda: sequential(service.url, requests, headers),
    )


async def one_hash_ms() -> float:
    """
    One verify with the owasp profile, alone on an idle hasher.
    """
    return (await hash_rate(OWASP_MINIMUM, 1, 0.5))["single_ms"]


def closed(
    url: str, requests: list[Request], plan: Plan, folder: Path, **kw: Any
) -> list[dict[str, Any]]:
    """
    ``plan.runs`` closed-loop loads of the same requests.
    """
    return [
        run_load(spec(url, requests, plan.seconds, **kw), folder)
        for _ in range(plan.runs)
    ]


async def password_phase(plan: Plan, folder: Path, scale: bool) -> dict[str, Any]:
    """
    The service as shipped (owasp profile): logins of every kind, against H2.
    """
    service = Service(plan.cores, folder)
    service.start(seed.write_kickstart(folder))
    try:
        out = await _password_measures(plan, service, folder, scale)
        good = out["kinds"]["good"]
        rate = out["h2"] / 2
        out["fixed_rate"] = fixed_rate(service.url, good, plan, folder, rate)
        return out
    finally:
        service.stop()


async def _password_measures(
    plan: Plan, service: Service, folder: Path, scale: bool
) -> dict[str, Any]:
    url = service.url
    ids = await seed.create_users(url, plan.users)
    emails = [seed.email(i) for i in range(plan.users)]
    kinds = {
        "good": [["POST", "/api/login", login_body(e)] for e in emails],
        "noJWT": [["POST", "/api/login", login_body(e, noJWT=True)] for e in emails],
        "wrong": [
            ["POST", "/api/login", login_body(e, password="not-the-password")]
            for e in emails
        ],
        "unknown": [
            ["POST", "/api/login", login_body(f"nobody{i}@bench.example")]
            for i in range(plan.users)
        ],
    }
    # H2 and the logins take turns, so both see the same background load.
    hashes: list[dict[str, float]] = []
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in kinds}
    for _ in range(plan.runs):
        hashes.append(await hash_rate(OWASP_MINIMUM, plan.cores, plan.seconds))
        for name, requests in kinds.items():
            load = spec(
                url,
                requests,
                plan.seconds,
                concurrency=plan.login_concurrency,
                headers=API,
            )
            runs[name].append(run_load(load, folder))  # fmt: skip
    out: dict[str, Any] = {
        "h2": statistics.median(h["per_s"] for h in hashes),
        "hash_ms": await one_hash_ms(),
    }
    for name, requests in kinds.items():
        found = runs[name]
        out[name] = {**stats.median_of(found), "statuses": stats.status_counts(found)}
        sample = requests[: plan.monitor_requests]
        out[name]["redis"] = await redis_cost(service, sample, API)
    out["status_under_load"] = _status_under_load(url, kinds["good"], plan, folder)
    out["overload"] = _overload(url, kinds["good"], plan, folder)
    out["light_1k"] = _light(url, kinds["good"], plan, folder)
    out["memory"] = await stats.memory(
        service.redis_socket, list(zip(ids, emails, strict=True)), 16
    )
    if scale:
        from bench.scale import load_users

        loaded = await load_users(service.redis_socket, plan.scale_users, 16)
        out["scale_load_s"] = loaded
        out["light_1m"] = _light(url, kinds["good"], plan, folder)
        out["memory_1m"] = await stats.memory(
            service.redis_socket, list(zip(ids, emails, strict=True)), 16
        )
    out["kinds"] = kinds
    return out


def fixed_rate(
    url: str, requests: list[Request], plan: Plan, folder: Path, rate: float
) -> dict[str, Any]:
    """
    Logins arriving at ``rate`` per second, open loop; median of the runs.
    """
    runs = [
        run_load(spec(url, requests, plan.seconds, rate=rate, headers=API), folder)
        for _ in range(plan.runs)
    ]
    return {**stats.median_of(runs), "statuses": stats.status_counts(runs)}


def _status_under_load(
    url: str, logins: list[Request], plan: Plan, folder: Path
) -> dict[str, Any]:
    """
    ``GET /api/status`` at 100/s while logins keep every hashing thread busy.
    """
    runs = []
    for _ in range(plan.runs):
        saturate = start_load(
            spec(url, logins, plan.seconds + 1.0,
                 concurrency=plan.login_concurrency, headers=API),
            folder,
        )  # fmt: skip
        probe = run_load(
            spec(url, [["GET", "/api/status", None]], plan.seconds, rate=100), folder
        )
        out, _ = saturate.communicate(timeout=plan.seconds * 3 + 30)
        runs.append({"probe": probe, "logins": json.loads(out)})
    return {
        "probe": stats.median_of([r["probe"] for r in runs]),
        "logins": stats.median_of([r["logins"] for r in runs]),
    }


def _overload(
    url: str, logins: list[Request], plan: Plan, folder: Path
) -> dict[str, Any]:
    """
    Far more concurrent logins than the queue admits: fast 503s, no timeouts.
    """
    runs = [
        run_load(
            spec(url, logins, plan.seconds, concurrency=plan.overload_concurrency,
                 headers=API),
            folder,
        )
        for _ in range(plan.runs)
    ]  # fmt: skip
    counts = stats.status_counts(runs)
    shed = [r["statuses"]["503"] for r in runs if "503" in r["statuses"]]
    return {
        "statuses": counts,
        "retry_after": sum(r["retry_after"] for r in runs),
        "p99_503_ms": statistics.median(s["p99_ms"] for s in shed) if shed else None,
        "p50_503_ms": statistics.median(s["p50_ms"] for s in shed) if shed else None,
        **stats.median_of(runs),
    }


def _light(
    url: str, logins: list[Request], plan: Plan, folder: Path
) -> dict[str, float]:
    """
    Login latency with one request in flight: what a lookup costs, not a queue.
    """
    runs = [
        run_load(spec(url, logins, plan.seconds, concurrency=1, headers=API), folder)
        for _ in range(plan.runs)
    ]
    return stats.median_of(runs)


async def cheap_phase(plan: Plan, folder: Path) -> dict[str, Any]:
    """
    The service on the cheapest hash profile (everything but the hash), and C2.
    """
    service = Service(plan.cores, folder, env={"LOGINSVC_HASH_PROFILE": "cheapest"})
    service.start(seed.write_kickstart(folder))
    try:
        with bare_server(plan.cores) as bare_url:
            return await _cheap_measures(plan, service, bare_url, folder)
    finally:
        service.stop()


@dataclass
class Kind:
    """
    One cheap endpoint: how to make a run's requests, and whether each is spent.
    """

    requests: Callable[[int], Awaitable[list[Request]]]
    headers: dict[str, str] | None = None
    #: Each request spends what it carries (a token, a twoFactorId).
    once: bool = False


async def _cheap_measures(
    plan: Plan, service: Service, bare_url: str, folder: Path
) -> dict[str, Any]:
    kinds = await _cheap_kinds(plan, service)
    bare = [["POST", "/api/login", login_body("someone@bench.example")]]
    c2: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in kinds}
    # C2 and the endpoints take turns, so all see the same background load.
    for run in range(plan.runs):
        load = spec(bare_url, bare, plan.seconds, concurrency=plan.cheap_concurrency)
        c2.append(run_load(load, folder))
        for name, kind in kinds.items():
            requests = await kind.requests(run)
            limit = len(requests) if kind.once else 10**9
            load = spec(
                service.url,
                requests,
                plan.seconds,
                headers=kind.headers,
                concurrency=plan.cheap_concurrency,
                max_requests=limit,
            )
            runs[name].append(run_load(load, folder))  # fmt: skip
    out: dict[str, Any] = {"c2": stats.median_of(c2)}
    for name, kind in kinds.items():
        found = runs[name]
        out[name] = {**stats.median_of(found), "statuses": stats.status_counts(found)}
        sample = (await kind.requests(plan.runs))[: plan.monitor_requests]
        out[name]["redis"] = await redis_cost(service, sample, kind.headers)
    return out


async def _cheap_kinds(plan: Plan, service: Service) -> dict[str, Kind]:
    url = service.url
    ids = await seed.create_users(url, plan.users)
    emails = [seed.email(i) for i in range(plan.users)]
    logins = [["POST", "/api/login", login_body(e)] for e in emails]
    tokens = await seed.refresh_tokens(url, emails[:200])
    refreshes = [["POST", "/api/jwt/refresh", {"refreshToken": t}] for t in tokens]
    pings = [["PUT", f"/api/login/{i}/{seed.APPLICATION_ID}", None] for i in ids]

    async def fixed(requests: list[Request]) -> list[Request]:
        return requests

    async def logouts(run: int) -> list[Request]:
        count = plan.logout_tokens if run < plan.runs else plan.monitor_requests
        owners = [emails[i % len(emails)] for i in range(count)]
        fresh = await seed.refresh_tokens(url, owners)
        return [["POST", "/api/logout", {"refreshToken": t}] for t in fresh]

    return {
        "login": Kind(lambda _: fixed(logins), API),
        "refresh": Kind(lambda _: fixed(refreshes)),
        "ping": Kind(lambda _: fixed(pings), API),
        "logout": Kind(logouts, API, once=True),
        "two_factor": Kind(await _two_factor_requests(plan, url), once=True),
    }


async def _two_factor_requests(
    plan: Plan, url: str
) -> Callable[[int], Awaitable[list[Request]]]:
    """
    Second steps of two-factor logins: a fresh twoFactorId and code per user.

    A TOTP code is accepted once per user and time step, so each run (and the
    Redis count after the runs) has users of its own.
    """
    per_run = plan.two_factor_users
    count = per_run * plan.runs + plan.monitor_requests
    user_ids = await seed.create_users(url, count, kind="tfa")
    secrets_ = await seed.enable_two_factor(url, user_ids)

    async def requests_for(run: int) -> list[Request]:
        users = user_ids[run * per_run : (run + 1) * per_run]
        pending = await seed.two_factor_ids(url, users)
        return [
            ["POST", "/api/two-factor/login", {
                "twoFactorId": two_factor_id,
                "code": pyotp.TOTP(secrets_[user]).now(),
                "applicationId": seed.APPLICATION_ID,
            }]
            for user, two_factor_id in zip(users, pending, strict=True)
        ]  # fmt: skip

    return requests_for
