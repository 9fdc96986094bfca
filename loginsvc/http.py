"""
Request reading and response writing in FusionAuth's conventions: JSON with
nulls omitted, ``Cache-Control: no-store``, field errors collected at once.
"""

from __future__ import annotations

import builtins
import ipaddress
import json
import uuid
from typing import Any

from aiohttp import web

from loginsvc.errors import GeneralError as _General
from loginsvc.errors import PayloadTooLarge, Problems, ValidationFailed

MAX_DEPTH = 32
MAX_STRING = 65536


def dumps(body: Any) -> str:
    return json.dumps(without_nulls(body), separators=(",", ":"), ensure_ascii=False)


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=dumps(body),
        status=status,
        content_type="application/json",
        charset="UTF-8",
        headers={"Cache-Control": "no-store"},
    )


def empty(status: int = 200) -> web.Response:
    return web.Response(status=status, headers={"Cache-Control": "no-store"})


def bad_json(message: str) -> ValidationFailed:
    return ValidationFailed(general_errors=[_General("[invalidJSON]", message)])


async def read_json(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """
    The request's JSON object; 400 for malformed or non-object JSON, 413 if huge.
    """
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge("The request body is too large.") from None
    if not raw.strip():
        if optional:
            return {}
        raise bad_json("The request body is empty; a JSON object is required.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_json("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_json("The request body must be a JSON object.")
    if _depth(data) > MAX_DEPTH:
        raise bad_json(f"The request body is nested deeper than {MAX_DEPTH} levels.")
    return data


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


class Fields:
    """
    Typed reads of a JSON object that collect every problem instead of raising.
    """

    def __init__(
        self, data: Any, prefix: str = "", problems: Problems | None = None
    ) -> None:
        self.problems = problems if problems is not None else Problems()
        self.prefix = prefix
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if data is not None and not isinstance(data, dict) and prefix:
            self._convert(prefix.rstrip("."))

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _convert(self, path: str) -> None:
        self.problems.add(path, "couldNotConvert", f"Invalid value for '{path}'.")

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def str(
        self, name: str, *, required: bool = False, blank: str = "blank"
    ) -> str | None:
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problems.add(
                    self.path(name), blank, f"You must specify '{self.path(name)}'."
                )
            return None
        if not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            self._convert(self.path(name))
            return None
        if not _encodable(value):
            # A lone surrogate from a JSON escape: no store or key can keep it.
            self._convert(self.path(name))
            return None
        if len(value) > MAX_STRING:
            self.problems.add(
                self.path(name),
                "tooLong",
                f"The value of '{self.path(name)}' is too long.",
            )
            return None
        return value

    def uuid(
        self, name: builtins.str, *, required: builtins.bool = False
    ) -> builtins.str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.problems.missing(self.path(name))
            return None
        parsed = parse_uuid(value)
        if parsed is None:
            self._convert(self.path(name))
        return parsed

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self._convert(self.path(name))
        return default

    def int(self, name: builtins.str) -> builtins.int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self._convert(self.path(name))
            return None
        try:
            number = int(value)
        except ValueError:
            self._convert(self.path(name))
            return None
        if not -(2**63) <= number < 2**63:
            self._convert(self.path(name))
            return None
        return number

    def obj(self, name: builtins.str) -> Fields:
        return Fields(self.data.get(name), self.path(name) + ".", self.problems)

    def dict(self, name: builtins.str) -> builtins.dict[builtins.str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._convert(self.path(name))
            return None
        return value

    def str_list(self, name: builtins.str) -> list[builtins.str] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._convert(self.path(name))
            return None
        return list(value)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def client_ip(request: web.Request, body_ip: str | None = None) -> str | None:
    """
    Body ``ipAddress``, else the first ``X-Forwarded-For`` entry, else the peer.

    A value that is not an IP literal is ignored, as FusionAuth does.
    """
    for candidate in (body_ip, _forwarded(request)):
        if candidate and _is_ip(candidate):
            return candidate
    return request.remote


def _forwarded(request: web.Request) -> str | None:
    header = request.headers.get("X-Forwarded-For")
    if not header:
        return None
    return header.split(",", 1)[0].strip() or None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


def is_https(request: web.Request) -> bool:
    proto = request.headers.get("X-Forwarded-Proto", "").split(",", 1)[0].strip()
    return request.secure or proto.lower() == "https"


def query_bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() == "true"
