"""
FusionAuth kickstart files: parse one, then replay it against the API.

The compatible subset of
https://fusionauth.io/docs/get-started/download-and-install/development/kickstart:
``variables``, ``apiKeys`` and ``requests``; ``#{name}``, ``#{ENV.NAME}``,
``#{UUID()}`` and the built-in ids; ``\\#{`` for a literal ``#{``; and the
includes ``"@{file}"`` (text) and ``"&{file.json}"`` (JSON), resolved against
the kickstart file's directory.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from loginsvc.defaults import (
    DEFAULT_SIGNING_KEY_ID,
    DEFAULT_TENANT_ID,
    FUSIONAUTH_APPLICATION_ID,
)

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\\#\{|#\{([^{}]*)\}")
_INCLUDE = re.compile(r"([@&])\{(.+)\}", re.DOTALL)
_METHODS = ("POST", "PUT", "PATCH")


class KickstartError(Exception):
    """
    A kickstart file is unusable, or one of its requests failed.
    """


@dataclass(frozen=True, slots=True)
class KickstartRequest:
    """
    One ``requests[]`` entry, with every placeholder replaced.
    """

    method: str
    url: str
    body: object = None
    tenant_id: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Kickstart:
    """
    A parsed kickstart file, ready to run.
    """

    api_keys: list[dict[str, object]]
    requests: list[KickstartRequest]
    #: The ``defaultTenantId`` variable, or the built-in default tenant id.
    default_tenant_id: str = DEFAULT_TENANT_ID


def load_kickstart(path: Path, environ: Mapping[str, str]) -> Kickstart:
    """
    Read a kickstart file and resolve its variables and includes.
    """
    document = _read_json(path, "kickstart file")
    if not isinstance(document, dict):
        raise KickstartError(f"The kickstart file '{path}' must hold a JSON object.")

    resolver = _Resolver(path.parent, environ, document.get("variables", {}))
    api_keys = resolver.expand(document.get("apiKeys", []), ())
    requests = resolver.expand(document.get("requests", []), ())

    return Kickstart(
        api_keys=_api_keys(api_keys),
        requests=_requests(requests),
        default_tenant_id=resolver.lookup("FUSIONAUTH_TENANT_ID"),
    )


async def run_kickstart(
    kickstart: Kickstart,
    create_api_key: Callable[[dict[str, object]], Awaitable[None]],
    send: Callable[[KickstartRequest, str], Awaitable[tuple[int, bytes]]],
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """
    Create the API keys, then send each request with the first key, in order.

    The first request that fails raises ``KickstartError``; later ones are not
    sent. ``progress`` hears how many requests have succeeded after each one.
    """
    if not kickstart.api_keys:
        logger.info("kickstart_skipped reason=no_api_keys")
        return
    for spec in kickstart.api_keys:
        await create_api_key(spec)
    logger.info("kickstart_api_keys_created count=%s", len(kickstart.api_keys))

    key = str(kickstart.api_keys[0]["key"])
    for index, request in enumerate(kickstart.requests):
        await _send_one(index, request, key, send)
        if progress is not None:
            await progress(index + 1)
    logger.info("kickstart_completed requests=%s", len(kickstart.requests))


async def _send_one(
    index: int,
    request: KickstartRequest,
    key: str,
    send: Callable[[KickstartRequest, str], Awaitable[tuple[int, bytes]]],
) -> None:
    # The query string stays out of logs and errors: it may carry a token.
    url = request.url.partition("?")[0]
    try:
        status, body = await send(request, key)
    except Exception as exc:
        raise KickstartError(
            f"Kickstart request {index} ({request.method} {url}) could not be "
            f"sent: {type(exc).__name__}."
        ) from exc
    logger.info(
        "kickstart_request_sent index=%s method=%s url=%s status=%s",
        index,
        request.method,
        url,
        status,
    )

    if not 200 <= status < 300:
        codes = _error_codes(body)
        detail = f" with {', '.join(codes)}" if codes else ""
        raise KickstartError(
            f"Kickstart request {index} ({request.method} {url}) failed: "
            f"status {status}{detail}."
        )


class _Resolver:
    """
    Replaces placeholders and includes; each variable is resolved once.
    """

    def __init__(
        self, base_dir: Path, environ: Mapping[str, str], variables: object
    ) -> None:
        if not isinstance(variables, dict):
            raise KickstartError("The kickstart 'variables' must be a JSON object.")
        for name, value in variables.items():
            if not isinstance(value, str):
                raise KickstartError(
                    f"The kickstart variable '{name}' must be a string."
                )
        self.base_dir = base_dir
        self.environ = environ
        self.variables: dict[str, str] = variables
        self.resolved: dict[str, str] = {}
        self.resolving: list[str] = []

    def expand(self, value: object, includes: tuple[Path, ...]) -> object:
        if isinstance(value, dict):
            return {key: self.expand(item, includes) for key, item in value.items()}
        if isinstance(value, list):
            return [self.expand(item, includes) for item in value]
        if not isinstance(value, str):
            return value
        if match := _INCLUDE.fullmatch(value):
            return self.include(match[1], match[2], includes)
        return self.substitute(value)

    def include(self, kind: str, name: str, includes: tuple[Path, ...]) -> object:
        path = self.base_dir / name
        if path in includes:
            raise KickstartError(f"The kickstart include '{name}' includes itself.")
        if kind == "@":
            return self.substitute(_read_text(path, "kickstart include"))
        return self.expand(_read_json(path, "kickstart include"), (*includes, path))

    def substitute(self, text: str) -> str:
        return _PLACEHOLDER.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        if match[1] is None:
            return "#{"
        return self.lookup(match[1].strip())

    def lookup(self, name: str) -> str:
        if name == "UUID()":
            return str(uuid.uuid4())
        if name.startswith("ENV."):
            return self._environment(name.removeprefix("ENV."))
        if name in self.variables:
            return self._variable(name)
        if name == "FUSIONAUTH_TENANT_ID":
            # A 'defaultTenantId' variable sets the default tenant's id.
            if "defaultTenantId" in self.variables:
                return self._variable("defaultTenantId")
            return DEFAULT_TENANT_ID
        if name in _BUILT_INS:
            return _BUILT_INS[name]
        raise KickstartError(f"The kickstart variable '{name}' is not defined.")

    def _environment(self, name: str) -> str:
        if name not in self.environ:
            raise KickstartError(
                f"The environment variable '{name}' used by the kickstart file "
                "is not set."
            )
        return self.environ[name]

    def _variable(self, name: str) -> str:
        if name in self.resolved:
            return self.resolved[name]
        if name in self.resolving:
            raise KickstartError(f"The kickstart variable '{name}' refers to itself.")

        # Resolved once, so a '#{UUID()}' variable names the same id everywhere.
        self.resolving.append(name)
        self.resolved[name] = self.substitute(self.variables[name])
        self.resolving.pop()
        return self.resolved[name]


_BUILT_INS = {
    "FUSIONAUTH_APPLICATION_ID": FUSIONAUTH_APPLICATION_ID,
    "FUSIONAUTH_DEFAULT_SIGNING_KEY_ID": DEFAULT_SIGNING_KEY_ID,
}


def _api_keys(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list):
        raise KickstartError("The kickstart 'apiKeys' must be a JSON array.")
    for index, spec in enumerate(value):
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            raise KickstartError(f"The kickstart API key {index} needs a 'key' string.")
        if not spec["key"]:
            raise KickstartError(f"The kickstart API key {index} has an empty 'key'.")

    # Every request runs with the first key, so it must reach everything.
    first = value[0] if value else {}
    permissions = first.get("permissions") or {}
    if first.get("tenantId") or (
        isinstance(permissions, dict) and permissions.get("endpoints")
    ):
        raise KickstartError(
            "The first kickstart API key must be global: no 'tenantId' and no "
            "endpoint 'permissions'."
        )
    return value


def _requests(value: object) -> list[KickstartRequest]:
    if not isinstance(value, list):
        raise KickstartError("The kickstart 'requests' must be a JSON array.")
    return [_request(index, entry) for index, entry in enumerate(value)]


def _request(index: int, entry: object) -> KickstartRequest:
    if not isinstance(entry, dict):
        raise KickstartError(f"The kickstart request {index} must be a JSON object.")
    method = entry.get("method")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise KickstartError(
            f"The kickstart request {index} needs a 'method' of POST, PUT or PATCH."
        )
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith("/"):
        raise KickstartError(
            f"The kickstart request {index} needs a 'url' starting with '/'."
        )

    tenant_id = entry.get("tenantId")
    content_type = entry.get("contentType")
    for field, item in (("tenantId", tenant_id), ("contentType", content_type)):
        if item is not None and not isinstance(item, str):
            raise KickstartError(
                f"The kickstart request {index} has a non-string '{field}'."
            )
    return KickstartRequest(
        method=method.upper(),
        url=url,
        body=entry.get("body"),
        tenant_id=tenant_id or None,
        content_type=content_type or None,
    )


def _error_codes(body: bytes) -> list[str]:
    """
    The FusionAuth error codes in a response body; never its messages.
    """
    try:
        errors = json.loads(body)
    except ValueError:
        return []
    if not isinstance(errors, dict):
        return []

    codes: list[str] = []
    general = errors.get("generalErrors")
    for error in general if isinstance(general, list) else []:
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            codes.append(error["code"])
    fields = errors.get("fieldErrors")
    for field_errors in fields.values() if isinstance(fields, dict) else []:
        for error in field_errors if isinstance(field_errors, list) else []:
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                codes.append(error["code"])
    return codes


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KickstartError(f"The {what} '{path}' was not found.") from None
    except UnicodeDecodeError:
        raise KickstartError(f"The {what} '{path}' is not UTF-8 text.") from None
    except OSError as exc:
        raise KickstartError(
            f"The {what} '{path}' could not be read: {exc.strerror}."
        ) from None


def _read_json(path: Path, what: str) -> object:
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise KickstartError(
            f"The {what} '{path}' is not valid JSON: {exc.msg} at line "
            f"{exc.lineno} column {exc.colno}."
        ) from None
