"""
Registration use cases: register an existing user, create a user with a
registration in one commit, and retrieve, update or delete a registration
(https://fusionauth.io/docs/apis/registrations).
"""

from __future__ import annotations

import uuid
from typing import Any

from events import user as user_events
from loginsvc.errors import NotFound, Problems
from loginsvc.http import Fields
from loginsvc.runtime import Runtime
from loginsvc.services import users
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.documents import check_storable, merge, raise_problems
from loginsvc.services.lookup import load_user
from loginsvc.services.system import application
from loginsvc.views import registration_of
from projections.store import Doc

#: What a client sets on a registration; the rest is kept by the service.
SETTABLE = ("roles", "username", "data", "preferredLanguages", "timezone")


def read_registration(
    rt: Runtime,
    registration: Any,
    problems: Problems,
    application_id: str | None = None,
) -> dict[str, Any]:
    """
    The settable fields and ``applicationId`` of a registration, checked.
    """
    f = Fields(registration, "registration.", problems)
    app_id = application_id or f.uuid("applicationId", required=True)
    app = application(rt, app_id)
    if app_id and app is None:
        problems.invalid(
            "registration.applicationId", "The provided application Id is invalid."
        )
    fields = {
        "applicationId": app_id,
        "roles": _roles(f, app),
        "username": f.str("username"),
        "data": f.dict("data"),
        "preferredLanguages": f.str_list("preferredLanguages"),
        "timezone": f.str("timezone"),
    }
    return {k: v for k, v in fields.items() if v is not None}


def _roles(f: Fields, app: dict[str, Any] | None) -> list[str] | None:
    roles = f.str_list("roles")
    if app is None or roles is None:
        return roles
    defined = {role.get("name") for role in app.get("roles", [])}
    if set(roles) - defined:
        f.problems.invalid(
            "registration.roles", "A role is not defined by the application."
        )
    return sorted(set(roles))


def new_registration(
    rt: Runtime, fields: dict[str, Any], body: dict[str, Any], problems: Problems
) -> Doc:
    """
    A registration document: default roles when none are given.
    """
    app = application(rt, fields.get("applicationId")) or {}
    skip = Fields(body, "", problems).bool("skipRegistrationVerification")
    roles = fields.get("roles") or sorted(
        {r["name"] for r in app.get("roles", []) if r.get("isDefault")}
    )
    now = rt.clock()
    return {
        "id": str(uuid.uuid4()),
        **fields,
        "roles": roles,
        "verified": skip or not app.get("verifyRegistration"),
        "insertInstant": now,
        "lastUpdateInstant": now,
    }


async def register(
    rt: Runtime, body: dict[str, Any], user_id: str | None
) -> tuple[Doc | None, Doc]:
    """
    Register a user; with ``user`` in the body, create the user too.

    Returns the created user (``None`` for an existing one) and the registration.
    """
    if body.get("user") is not None:
        return await _create_and_register(rt, body, user_id)
    problems = Problems()
    check_storable(body, "", problems)
    fields = read_registration(rt, body.get("registration"), problems)
    registration = new_registration(rt, fields, body, problems)
    if user_id is None:
        problems.missing("userId")
        raise_problems(problems)
    return None, await _register_existing(rt, str(user_id), registration, problems)


async def _register_existing(
    rt: Runtime, user_id: str, registration: Doc, problems: Problems
) -> Doc:
    async def attempt() -> Doc:
        version, doc = await load_user(rt, user_id)
        if doc is None:
            raise NotFound()
        _check_new(doc, registration, problems)
        raise_problems(problems)
        event = user_events.UserRegistered(registration)
        await commit_user(rt, user_id, version, doc, [event])
        return registration

    return await retrying(attempt)


def _check_new(doc: Doc, registration: Doc, problems: Problems) -> None:
    app_id = registration.get("applicationId")
    if app_id and registration_of(doc, app_id) is not None:
        problems.add(
            "registration.applicationId",
            "duplicate",
            "The user is already registered for this application.",
        )


async def _create_and_register(
    rt: Runtime, body: dict[str, Any], user_id: str | None
) -> tuple[Doc, Doc]:
    problems = Problems()
    data, flags = users.read_request(rt, body, problems, creating=True)
    fields = read_registration(rt, body.get("registration"), problems)
    registration = new_registration(rt, fields, body, problems)
    # TODO(parity): FusionAuth also answers token and refreshToken here
    # (https://fusionauth.io/docs/apis/registrations); not issued yet.
    event = user_events.UserRegistered(registration)
    doc = await users.create_checked(rt, data, flags, problems, user_id, [event])
    return doc, registration


async def retrieve_registration(rt: Runtime, user_id: str, app_id: str) -> Doc:
    """
    A user's registration for an application, or 404.
    """
    _version, doc = await load_user(rt, user_id)
    found = registration_of(doc, app_id) if doc else None
    if found is None:
        raise NotFound()
    return found


async def update_registration(
    rt: Runtime,
    user_id: str,
    app_id: str | None,
    body: dict[str, Any],
    patch: str | None = None,
) -> Doc:
    """
    Replace (PUT) or merge into (PATCH) the settable fields of a registration.
    """

    async def attempt() -> Doc:
        problems = Problems()
        check_storable(body, "", problems)
        given = body.get("registration")
        target = app_id or Fields(given, "registration.", problems).uuid(
            "applicationId", required=True
        )
        raise_problems(problems)
        version, doc = await load_user(rt, user_id)
        current = registration_of(doc, target) if doc and target else None
        if doc is None or current is None:
            raise NotFound()
        if patch is not None and (given is None or isinstance(given, dict)):
            base = {k: v for k, v in current.items() if k in SETTABLE}
            given = merge(base, given or {}, append_arrays=patch == "merge")
        fields = read_registration(rt, given, problems, target)
        raise_problems(problems)
        kept = {k: v for k, v in current.items() if k not in SETTABLE}
        updated = {**kept, **fields, "lastUpdateInstant": rt.clock()}
        event = user_events.RegistrationUpdated(updated)
        await commit_user(rt, user_id, version, doc, [event])
        return updated

    return await retrying(attempt)


async def delete_registration(rt: Runtime, user_id: str, app_id: str) -> None:
    """
    Remove a user's registration for an application, or 404.
    """

    async def attempt() -> None:
        version, doc = await load_user(rt, user_id)
        if doc is None or registration_of(doc, app_id) is None:
            raise NotFound()
        event = user_events.RegistrationDeleted(app_id)
        await commit_user(rt, user_id, version, doc, [event])

    await retrying(attempt)
