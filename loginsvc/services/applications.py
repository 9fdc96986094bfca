"""
Application use cases: create, update, patch, deactivate, reactivate and
delete applications, and add roles (https://fusionauth.io/docs/apis/applications).

Settings the login path reads are checked here, so nothing stored can make a
login fail later.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from events import system
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import NotFound, Problems
from loginsvc.http import Fields, without_nulls
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, retrying
from loginsvc.services.documents import (
    boolean,
    check_settings,
    check_storable,
    integer,
    merge,
    one_of,
    raise_problems,
    section,
    setting_at,
    text,
)
from loginsvc.services.system import application
from projections.store import Doc

KIND = "application"

RULES = (
    ("verifyRegistration", boolean),
    ("data", section),
    ("loginConfiguration", section),
    ("loginConfiguration.allowTokenRefresh", boolean),
    ("loginConfiguration.generateRefreshTokens", boolean),
    ("loginConfiguration.requireAuthentication", boolean),
    ("jwtConfiguration", section),
    ("jwtConfiguration.enabled", boolean),
    ("jwtConfiguration.timeToLiveInSeconds", integer(1)),
    ("jwtConfiguration.refreshTokenTimeToLiveInMinutes", integer(1)),
    (
        "jwtConfiguration.refreshTokenExpirationPolicy",
        one_of("Fixed", "SlidingWindow", "SlidingWindowWithMaximumLifetime"),
    ),
    ("jwtConfiguration.refreshTokenUsagePolicy", one_of("Reusable", "OneTimeUse")),
    ("jwtConfiguration.accessTokenKeyId", text),
    ("jwtConfiguration.idTokenKeyId", text),
    ("jwtConfiguration.refreshTokenSlidingWindowConfiguration", section),
    (
        "jwtConfiguration.refreshTokenSlidingWindowConfiguration"
        ".maximumTimeToLiveInMinutes",
        integer(1),
    ),
    ("multiFactorConfiguration", section),
    ("multiFactorConfiguration.loginPolicy", one_of("Enabled", "Disabled", "Required")),
    ("multiFactorConfiguration.trustPolicy", one_of("Any", "This", "None")),
    ("oauthConfiguration", section),
    ("oauthConfiguration.scopeHandlingPolicy", one_of("Strict", "Compatibility")),
)
_JWT_REQUIRED = (
    "jwtConfiguration.timeToLiveInSeconds",
    "jwtConfiguration.refreshTokenTimeToLiveInMinutes",
)
_KEY_REFS = ("jwtConfiguration.accessTokenKeyId", "jwtConfiguration.idTokenKeyId")
#: Kept by the service whatever a client sends.
_MANAGED = ("id", "tenantId", "active", "insertInstant", "lastUpdateInstant", "roles")


def defaults() -> Doc:
    """
    What FusionAuth's ``Application`` holds when a client leaves a setting out.
    """
    return {
        "verifyRegistration": False,
        "loginConfiguration": {
            "allowTokenRefresh": False,
            "generateRefreshTokens": False,
            "requireAuthentication": True,
        },
        "jwtConfiguration": {"enabled": False},
        "multiFactorConfiguration": {"loginPolicy": "Enabled"},
        "oauthConfiguration": {"scopeHandlingPolicy": "Strict"},
    }


def build(
    rt: Runtime, given: Any, problems: Problems, current: Doc | None, app_id: str
) -> Doc:
    """
    The application document a request describes, checked; problems are added.
    """
    f = Fields(given, "application.", problems)
    name = f.str("name", required=True)
    if f.uuid("tenantId") not in (None, DEFAULT_TENANT_ID):
        problems.invalid("application.tenantId")
    candidate = merge(defaults(), without_nulls(f.data), append_arrays=False)
    candidate["name"] = name
    required = (
        _JWT_REQUIRED if setting_at(candidate, "jwtConfiguration.enabled") else ()
    )
    check_settings(candidate, RULES, "application.", problems, required)
    for path in _KEY_REFS:
        key_id = setting_at(candidate, path)
        if isinstance(key_id, str) and rt.system.get("key", key_id) is None:
            problems.invalid(f"application.{path}")
    now = rt.clock()
    return {
        **{k: v for k, v in candidate.items() if k not in _MANAGED},
        "id": app_id,
        "tenantId": DEFAULT_TENANT_ID,
        "active": current["active"] if current else True,
        "roles": roles(f.raw("roles"), current, problems, now),
        "insertInstant": current["insertInstant"] if current else now,
        "lastUpdateInstant": now,
    }


def roles(value: Any, current: Doc | None, problems: Problems, now: int) -> list[Doc]:
    """
    The roles a request gives (or the current ones when it gives none).

    A role keeps its id when the request names it or a current role has its name.
    """
    known = {r["name"]: r for r in (current or {}).get("roles", [])}
    if value is None:
        return list(known.values())
    if not isinstance(value, list):
        problems.add(
            "application.roles",
            "couldNotConvert",
            "Invalid value for 'application.roles'.",
        )
        return []
    found = [
        role_doc(item, known, problems, "application.roles.", now) for item in value
    ]
    names = [r.get("name") for r in found]
    if len(set(names)) != len(names):
        problems.add("application.roles", "duplicate", "Two roles have the same name.")
    return found


def role_doc(
    item: Any, known: dict[str, Doc], problems: Problems, prefix: str, now: int
) -> Doc:
    """
    One role of a request, checked; known names keep their id.
    """
    f = Fields(item, prefix, problems)
    name = f.str("name", required=True)
    before = known.get(name or "", {})
    role = {
        "id": f.uuid("id") or before.get("id") or str(uuid.uuid4()),
        "name": name,
        "description": f.str("description"),
        "isDefault": f.bool("isDefault"),
        "isSuperRole": f.bool("isSuperRole"),
        "insertInstant": before.get("insertInstant", now),
        "lastUpdateInstant": now,
    }
    return {k: v for k, v in role.items() if v is not None}


def _checked(
    rt: Runtime, body: dict[str, Any], current: Doc | None, app_id: str
) -> Doc:
    problems = Problems()
    check_storable(body, "", problems)
    doc = build(rt, body.get("application"), problems, current, app_id)
    raise_problems(problems)
    return doc


async def create_application(
    rt: Runtime, body: dict[str, Any], app_id: str | None = None
) -> Doc:
    """
    Create an application; ``[duplicate]application.id`` if it exists.
    """
    problems = Problems()
    given_id = Fields(body.get("application"), "application.", problems).uuid("id")
    raise_problems(problems)
    ident = app_id or given_id or str(uuid.uuid4())

    async def attempt() -> Doc:
        if application(rt, ident) is not None:
            raise_problems(_duplicate_id())
        doc = _checked(rt, body, None, ident)
        return await _commit(rt, ident, system.ApplicationCreated(doc))

    return await retrying(attempt)


def _duplicate_id() -> Problems:
    problems = Problems()
    problems.add(
        "application.id", "duplicate", "An application with this id already exists."
    )
    return problems


def retrieve_application(rt: Runtime, app_id: str) -> Doc:
    """
    An application, active or not, or 404.
    """
    found = application(rt, app_id)
    if found is None:
        raise NotFound()
    return found


def list_applications(rt: Runtime, inactive: bool = False) -> list[Doc]:
    """
    The active applications, or with ``inactive`` the others.
    """
    return [a for a in rt.system.all(KIND) if bool(a.get("active")) != inactive]


async def update_application(
    rt: Runtime, app_id: str, body: dict[str, Any], patch: str | None = None
) -> Doc:
    """
    Replace (PUT) or merge into (PATCH) an application's settings.
    """

    async def attempt() -> Doc:
        current = retrieve_application(rt, app_id)
        request = body
        if patch is not None and isinstance(body.get("application"), dict):
            base = {k: v for k, v in current.items() if k not in _MANAGED[:5]}
            merged = merge(base, body["application"], append_arrays=patch == "merge")
            request = {**body, "application": merged}
        doc = _checked(rt, request, current, app_id)
        return await _commit(rt, app_id, system.ApplicationUpdated(doc))

    return await retrying(attempt)


async def set_active(rt: Runtime, app_id: str, active: bool) -> Doc:
    """
    Deactivate or reactivate an application.
    """

    async def attempt() -> Doc:
        doc = copy.deepcopy(retrieve_application(rt, app_id))
        doc.update(active=active, lastUpdateInstant=rt.clock())
        return await _commit(rt, app_id, system.ApplicationUpdated(doc))

    return await retrying(attempt)


async def delete_application(rt: Runtime, app_id: str) -> None:
    """
    Delete an application for good.

    TODO(parity): FusionAuth also deletes the registrations for it
    (https://fusionauth.io/docs/apis/applications); they are kept here.
    """

    async def attempt() -> None:
        retrieve_application(rt, app_id)
        await commit_system(rt, KIND, app_id, [system.ApplicationDeleted()])

    await retrying(attempt)


async def add_role(
    rt: Runtime, app_id: str, body: dict[str, Any], role_id: str | None
) -> Doc:
    """
    Add one role to an application; the new role.
    """

    async def attempt() -> Doc:
        current = copy.deepcopy(retrieve_application(rt, app_id))
        problems = Problems()
        check_storable(body, "", problems)
        now = rt.clock()
        role = role_doc(body.get("role"), {}, problems, "role.", now)
        role["id"] = role_id or role["id"]
        existing = current.get("roles", [])
        if any(
            r["name"] == role.get("name") or r["id"] == role["id"] for r in existing
        ):
            problems.add("role.name", "duplicate", "The application has this role.")
        raise_problems(problems)
        current.update(roles=[*existing, role], lastUpdateInstant=now)
        await _commit(rt, app_id, system.ApplicationUpdated(current))
        return role

    return await retrying(attempt)


async def _commit(rt: Runtime, app_id: str, event: Any) -> Doc:
    doc = await commit_system(rt, KIND, app_id, [event])
    assert doc is not None
    return doc
