"""
Settings, read once from ``LOGINSVC_*`` environment variables.

No other module reads ``os.environ``; tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import unquote


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

#: How ``LOGINSVC_REDIS_URL`` is reached: one server, a Redis Cluster (the URL
#: names any node), or a primary found through Sentinel (see ``SentinelUrl``).
REDIS_MODES = ("single", "cluster", "sentinel")


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """
    ``redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]``.

    The hosts are the sentinels; ``master`` is the name they monitor; the
    optional credentials and ``db`` are for the primary, not the sentinels.
    """

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    FORM = "redis+sentinel://host:26379[,host:26379...]/master-name[/db]"

    @classmethod
    def parse(cls, raw: str) -> SentinelUrl:
        """
        Read the form above; the error shows the expected form.
        """
        error = ConfigError(
            "'LOGINSVC_REDIS_URL' must read like "
            f"'{cls.FORM}' when 'LOGINSVC_REDIS_MODE' is sentinel."
        )
        scheme, sep, rest = raw.partition("://")
        if scheme != "redis+sentinel" or not sep:
            raise error
        netloc, _, path = rest.partition("/")
        userinfo, at, hosts = netloc.rpartition("@")
        if not at:
            hosts = netloc
        username, colon, password = userinfo.partition(":")
        sentinels: list[tuple[str, int]] = []
        for item in hosts.split(","):
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise error
            sentinels.append((host.strip("[]"), int(port)))
        parts = path.split("/")
        master = parts[0]
        if not master or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise error
        return cls(
            sentinels=tuple(sentinels),
            master=unquote(master),
            db=int(parts[1]) if len(parts) == 2 else 0,
            username=(unquote(username) or None) if at else None,
            password=unquote(password) if at and colon else None,
        )


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
    # "single", "cluster" or "sentinel" (``REDIS_MODES``); not "single" needs
    # ``redis_url``: any cluster node, or a ``SentinelUrl``.
    redis_mode: str = "single"
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
        mode = env.get("LOGINSVC_REDIS_MODE") or "single"
        kwargs["redis_mode"] = _redis_mode(mode, env.get("LOGINSVC_REDIS_URL"))
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


def _redis_mode(mode: str, url: str | None) -> str:
    name = "LOGINSVC_REDIS_MODE"
    if mode not in REDIS_MODES:
        raise ConfigError(
            f"'{name}' must be one of {', '.join(REDIS_MODES)}, not {mode!r}."
        )
    if mode != "single" and not url:
        raise ConfigError(f"'{name}' {mode} needs 'LOGINSVC_REDIS_URL'.")
    if mode == "sentinel":
        SentinelUrl.parse(url or "")
    elif url and url.startswith("redis+sentinel://"):
        raise ConfigError(
            f"'LOGINSVC_REDIS_URL' names sentinels; set '{name}' to sentinel."
        )
    elif mode == "cluster" and url and not url.startswith(("redis://", "rediss://")):
        raise ConfigError(
            f"'LOGINSVC_REDIS_URL' must be a redis:// or rediss:// URL of a "
            f"cluster node when '{name}' is cluster."
        )
    return mode
