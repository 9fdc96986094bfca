"""
User use cases: create, retrieve, update, patch, deactivate, reactivate and
delete users (https://fusionauth.io/docs/apis/users).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from events import user as user_events
from loginsvc import keys
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import NotFound, Problems
from loginsvc.http import Fields
from loginsvc.runtime import Runtime
from loginsvc.services import login_ids
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.documents import check_storable, merge, raise_problems
from loginsvc.services.lookup import load_user, user_id_for_login_id
from loginsvc.services.system import tenant
from loginsvc.services.user_input import PROFILE_FIELDS, UserInput, read_user
from loginsvc.tenant import setting
from projections.store import Doc

#: FusionAuth's own identity connector, which every local user belongs to.
FUSIONAUTH_CONNECTOR_ID = "e3306678-a53a-4964-9040-1c96f36dda72"


def password_rules(rt: Runtime) -> dict[str, Any]:
    """
    The tenant's ``passwordValidationRules``.
    """
    rules = setting(tenant(rt), "passwordValidationRules", default={})
    return rules if isinstance(rules, dict) else {}


def read_request(
    rt: Runtime,
    body: dict[str, Any],
    problems: Problems,
    *,
    creating: bool,
    user: Any = None,
) -> tuple[UserInput, dict[str, bool]]:
    """
    The ``user`` of a request (or ``user`` given instead) and its flags.

    Only a new user needs a password, unless a set-password email is asked for.
    """
    check_storable(body, "", problems)
    f = Fields(body, "", problems)
    flags = {
        "skipVerification": f.bool("skipVerification"),
        "sendSetPasswordEmail": f.bool("sendSetPasswordEmail"),
    }
    # TODO(parity): sendSetPasswordEmail sends no email; it only makes the
    # password optional (https://fusionauth.io/docs/apis/users).
    data = read_user(
        body.get("user") if user is None else user,
        problems,
        password_rules(rt),
        password_required=creating and not flags["sendSetPasswordEmail"],
    )
    return data, flags


def _verified(rt: Runtime, skip: bool) -> bool:
    return skip or not setting(tenant(rt), "emailConfiguration", "verifyEmail")


async def create_user(
    rt: Runtime, body: dict[str, Any], user_id: str | None = None
) -> Doc:
    """
    Create a user from a User API request; the stored document.
    """
    problems = Problems()
    data, flags = read_request(rt, body, problems, creating=True)
    return await create_checked(rt, data, flags, problems, user_id)


async def create_checked(
    rt: Runtime,
    data: UserInput,
    flags: dict[str, bool],
    problems: Problems,
    user_id: str | None = None,
    more: Sequence[Any] = (),
) -> Doc:
    """
    Commit ``UserCreated`` (then ``more``) once nothing is wrong or taken.
    """
    uid = user_id or data.user_id or str(uuid.uuid4())
    wanted = _wanted(data.profile, set())
    hashed: dict[str, str] = {}

    async def attempt() -> Doc:
        version, existing = await load_user(rt, uid)
        if existing is not None:
            problems.add("user.id", "duplicate", "A user with this id already exists.")
        taken = await login_ids.claim(rt, uid, wanted, problems)
        raise_problems(problems)
        try:
            doc = await _new_doc(rt, uid, data, flags, hashed)
            events = [user_events.UserCreated(doc), *more]
            created = await commit_user(rt, uid, version, None, events)
        except BaseException:
            await login_ids.release_unused(rt, uid, taken)
            raise
        assert created is not None
        return created

    return await retrying(attempt)


async def _new_doc(
    rt: Runtime,
    user_id: str,
    data: UserInput,
    flags: dict[str, bool],
    hashed: dict[str, str],
) -> Doc:
    now = rt.clock()
    doc: Doc = {
        "id": user_id,
        "active": True,
        **data.profile,
        "tenantId": DEFAULT_TENANT_ID,
        "verified": _verified(rt, flags["skipVerification"]),
        "insertInstant": now,
        "lastUpdateInstant": now,
        "passwordLastUpdateInstant": now,
        "connectorId": FUSIONAUTH_CONNECTOR_ID,
        "usernameStatus": "ACTIVE",
        "twoFactor": {},
    }
    if data.password is not None:
        doc["password"] = await _hash(rt, data.password, hashed)
    return doc


async def _hash(rt: Runtime, password: str, hashed: dict[str, str]) -> str:
    # A retried attempt reuses the hash instead of paying argon2 twice.
    if password not in hashed:
        hashed[password] = await rt.hasher.hash(password)
    return hashed[password]


def _wanted(profile: dict[str, Any], held: set[str]) -> dict[str, str]:
    wanted = {}
    for name in ("email", "username"):
        value = profile.get(name)
        if value and value.lower() not in held:
            wanted[f"user.{name}"] = value
    return wanted


async def retrieve_user(rt: Runtime, user_id: str) -> Doc:
    """
    A user's document, or 404.
    """
    _version, doc = await load_user(rt, user_id)
    if doc is None:
        raise NotFound()
    return doc


async def find_user(rt: Runtime, value: str, kinds: Sequence[str]) -> Doc:
    """
    The user whose email or username (as ``kinds`` allow) is ``value``, any case.
    """
    user_id = await user_id_for_login_id(rt, value)
    doc = await retrieve_user(rt, user_id) if user_id else None
    if doc is None or not any(
        str(doc.get(kind, "")).lower() == value.lower() for kind in kinds
    ):
        raise NotFound()
    return doc


def profile_of(doc: Doc) -> dict[str, Any]:
    """
    The settable fields of a stored user, the base a PATCH merges into.
    """
    return {k: v for k, v in doc.items() if k in PROFILE_FIELDS}


async def update_user(
    rt: Runtime, user_id: str, body: dict[str, Any], patch: str | None = None
) -> Doc:
    """
    Replace (PUT) or merge into (``patch`` = ``"merge"`` or ``"rfc7396"``) a user.
    """
    hashed: dict[str, str] = {}

    async def attempt() -> Doc:
        version, doc = await load_user(rt, user_id)
        if doc is None:
            raise NotFound()
        problems = Problems()
        user = body.get("user")
        if patch is not None and (user is None or isinstance(user, dict)):
            user = merge(profile_of(doc), user or {}, append_arrays=patch == "merge")
        data, flags = read_request(rt, body, problems, creating=False, user=user)
        held = login_ids.login_values(doc)
        taken = await login_ids.claim(
            rt, user_id, _wanted(data.profile, held), problems
        )
        raise_problems(problems)
        try:
            updated = await _commit_update(rt, version, doc, data, flags, hashed)
        except BaseException:
            await login_ids.release_unused(rt, user_id, taken)
            raise
        dropped = held - login_ids.login_values(updated)
        await login_ids.release(rt, user_id, dropped)
        return updated

    return await retrying(attempt)


async def _commit_update(
    rt: Runtime,
    version: int,
    doc: Doc,
    data: UserInput,
    flags: dict[str, bool],
    hashed: dict[str, str],
) -> Doc:
    now = rt.clock()
    kept = {
        k: v
        for k, v in doc.items()
        if k not in PROFILE_FIELDS and not k.startswith("_")
    }
    user: Doc = {**kept, **data.profile, "lastUpdateInstant": now}
    if data.password is not None:
        user["password"] = await _hash(rt, data.password, hashed)
        user["passwordLastUpdateInstant"] = now
    if user.get("email") != doc.get("email"):
        user["verified"] = _verified(rt, flags["skipVerification"])
    event = user_events.UserUpdated(user)
    updated = await commit_user(rt, doc["id"], version, doc, [event])
    assert updated is not None
    return updated


async def _change(rt: Runtime, user_id: str, event: Any) -> Doc | None:
    async def attempt() -> Doc | None:
        version, doc = await load_user(rt, user_id)
        if doc is None:
            raise NotFound()
        return await commit_user(rt, user_id, version, doc, [event])

    return await retrying(attempt)


async def deactivate_user(rt: Runtime, user_id: str) -> None:
    """
    Deactivate a user (``active`` false); login then answers 423.
    """
    await _change(rt, user_id, user_events.UserDeactivated())


async def reactivate_user(rt: Runtime, user_id: str) -> Doc:
    """
    Reactivate a deactivated user; the document.
    """
    doc = await _change(rt, user_id, user_events.UserReactivated())
    assert doc is not None
    return doc


async def delete_user(rt: Runtime, user_id: str) -> None:
    """
    Delete a user for good, then free their loginIds and action index entries.
    """

    async def attempt() -> Doc:
        version, doc = await load_user(rt, user_id)
        if doc is None:
            raise NotFound()
        await commit_user(rt, user_id, version, doc, [user_events.UserDeleted()])
        return doc

    before = await retrying(attempt)
    await login_ids.release(rt, user_id, login_ids.login_values(before))
    for action in before.get("_actions", []):
        await rt.redis.delete(keys.user_action_index(action["id"]))
