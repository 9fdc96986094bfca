"""
Settings, read once from ``LOGINSVC_*`` environment variables.

No other module reads ``os.environ``; tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


class ConfigError(Exception):
    """A setting is missing or cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class HashProfile:
    """
    argon2id parameters: memory in KiB, iterations, lanes.
    """

    memory_cost: int
    time_cost: int
    parallelism: int


#: OWASP's minimum for argon2id, the default: one verify costs tens of
#: milliseconds of one core.
OWASP_MINIMUM = HashProfile(memory_cost=19456, time_cost=2, parallelism=1)
#: RFC 9106's second recommendation: 64 MiB, three passes.
RFC_9106_LOW_MEMORY = HashProfile(memory_cost=65536, time_cost=3, parallelism=4)
#: For tests and the cheapest-profile benchmark only: never in production.
CHEAPEST = HashProfile(memory_cost=8, time_cost=1, parallelism=1)

HASH_PROFILES: dict[str, HashProfile] = {
    "owasp": OWASP_MINIMUM,
    "rfc9106-low-memory": RFC_9106_LOW_MEMORY,
    "cheapest": CHEAPEST,
}

#: Days the hourly login counters are kept (``projections.logins`` expires
#: them), so the most a report can read back.
MAX_LOGIN_HISTORY_DAYS = 400

#: The values redis-server accepts for ``appendfsync``.
APPENDFSYNC_POLICIES = ("always", "everysec", "no")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """
    At most ``count`` requests per fixed window of ``seconds``.
    """

    count: int
    seconds: int

    @classmethod
    def parse(cls, name: str, raw: str) -> RateLimit:
        """
        Read ``"10/60"`` (count/seconds); the error names the variable.
        """
        count, _, seconds = raw.partition("/")
        try:
            limit = cls(int(count), int(seconds))
        except ValueError:
            raise ConfigError(
                f"'{name}' must read like '10/60' (requests/seconds)."
            ) from None
        if limit.count < 1 or limit.seconds < 1:
            raise ConfigError(f"'{name}' needs a count and seconds of at least 1.")
        return limit


@dataclass(frozen=True, slots=True)
class Settings:
    """
    Everything the service can be told at start.

    Secrets (``server_key``) are masked in ``repr``.
    """

    redis_url: str | None = None
    partitions: int = 16
    hash_profile: HashProfile = OWASP_MINIMUM
    # Hashing threads per process; None means this process's share of the
    # cores (``hash_threads_for``), so N workers do not oversubscribe them.
    hash_threads: int | None = None
    # A password verify that would wait longer than this in the queue is
    # answered 503 at once instead of timing out later.
    hash_max_wait_ms: int = 2000
    server_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1024 * 1024
    redis_timeout_s: float = 2.0
    # fsync policy of the embedded redis-server's AOF: "always" loses no
    # acknowledged write, "everysec" up to a second of them on power loss.
    redis_appendfsync: str = "always"
    kickstart_file: str | None = None
    # Not in FusionAuth; off unless set (429 with Retry-After when exceeded).
    rate_limit_ip: RateLimit | None = None
    rate_limit_login_id: RateLimit | None = None
    # How many days back the login report reads; the hourly counters
    # themselves expire after ``projections.logins.RETENTION_DAYS``.
    login_history_days: int = MAX_LOGIN_HISTORY_DAYS

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "server_key" and value is not None:
                value = "***"
            elif f.name == "redis_url" and value and "@" in value:
                value = "***@" + value.rsplit("@", 1)[1]
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """
        Build settings from ``LOGINSVC_*`` variables; unset ones keep defaults.
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        if url := env.get("LOGINSVC_REDIS_URL"):
            kwargs["redis_url"] = url
        if raw := env.get("LOGINSVC_PARTITIONS"):
            kwargs["partitions"] = _int(env, "LOGINSVC_PARTITIONS", raw, minimum=1)
        if raw := env.get("LOGINSVC_HASH_PROFILE"):
            if raw not in HASH_PROFILES:
                names = ", ".join(sorted(HASH_PROFILES))
                raise ConfigError(
                    f"'LOGINSVC_HASH_PROFILE' must be one of {names}, not {raw!r}."
                )
            kwargs["hash_profile"] = HASH_PROFILES[raw]
        if raw := env.get("LOGINSVC_HASH_THREADS"):
            kwargs["hash_threads"] = _int(env, "LOGINSVC_HASH_THREADS", raw, 1)
        if raw := env.get("LOGINSVC_HASH_MAX_WAIT_MS"):
            kwargs["hash_max_wait_ms"] = _int(env, "LOGINSVC_HASH_MAX_WAIT_MS", raw, 1)
        if raw := env.get("LOGINSVC_SERVER_KEY"):
            kwargs["server_key"] = raw
        if raw := env.get("LOGINSVC_MAX_BODY_BYTES"):
            kwargs["max_body_bytes"] = _int(env, "LOGINSVC_MAX_BODY_BYTES", raw, 1024)
        if raw := env.get("LOGINSVC_REDIS_APPENDFSYNC"):
            if raw not in APPENDFSYNC_POLICIES:
                names = ", ".join(APPENDFSYNC_POLICIES)
                raise ConfigError(
                    f"'LOGINSVC_REDIS_APPENDFSYNC' must be one of {names}, not {raw!r}."
                )
            kwargs["redis_appendfsync"] = raw
        if raw := env.get("LOGINSVC_LOGIN_HISTORY_DAYS"):
            kwargs["login_history_days"] = _history_days(env, raw)
        for name, attr in (
            ("LOGINSVC_RATE_LIMIT_IP", "rate_limit_ip"),
            ("LOGINSVC_RATE_LIMIT_LOGIN_ID", "rate_limit_login_id"),
        ):
            if raw := env.get(name):
                kwargs[attr] = RateLimit.parse(name, raw)
        # FusionAuth's own variable is honoured so existing deployments work.
        kickstart = env.get("LOGINSVC_KICKSTART_FILE") or env.get(
            "FUSIONAUTH_APP_KICKSTART_FILE"
        )
        if kickstart:
            kwargs["kickstart_file"] = kickstart
        return cls(**kwargs)  # type: ignore[arg-type]


def hash_threads_for(workers: int, cores: int | None = None) -> int:
    """
    The default hashing threads of one of ``workers`` processes on ``cores``.
    """
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _int(env: Mapping[str, str], name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"'{name}' must be a whole number.") from None
    if value < minimum:
        raise ConfigError(f"'{name}' must be at least {minimum}.")
    return value


def _history_days(env: Mapping[str, str], raw: str) -> int:
    name = "LOGINSVC_LOGIN_HISTORY_DAYS"
    days = _int(env, name, raw, minimum=1)
    if days > MAX_LOGIN_HISTORY_DAYS:
        raise ConfigError(
            f"'{name}' must be at most {MAX_LOGIN_HISTORY_DAYS}, the days the "
            "hourly login counters are kept."
        )
    return days
