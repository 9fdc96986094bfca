"""
Actioning users: apply a defined user action to a user, cancel it, list a
user's actions (https://fusionauth.io/docs/apis/actioning-users).

An applied action lives in the actionee's document (``_actions``). The index
key ``user_action_index(action id)`` names the actionee, so a cancel that
starts from the action id finds the user; it is written before the commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from events import user as user_events
from events.refresh_token import RefreshTokensRevoked
from loginsvc import keys
from loginsvc.errors import NotFound, Problems
from loginsvc.http import Fields, parse_uuid
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.documents import check_storable, raise_problems
from loginsvc.services.lockout import revokes_on_login_prevented
from loginsvc.services.lookup import load_user
from loginsvc.services.system import application
from projections.store import Doc

#: Fields of an applied action that stay inside the service.
_INTERNAL = ("preventLogin", "temporal", "cancelled")


def action_view(action: Doc) -> Doc:
    """
    An applied action as FusionAuth's ``UserActionLog`` shows it.
    """
    return {
        k: v for k, v in action.items() if k not in _INTERNAL and not k.startswith("_")
    }


def in_force(action: Doc, now_ms: int) -> bool:
    """
    A time-based action that has not expired yet (FusionAuth's "active").
    """
    expiry = action.get("expiry")
    return bool(action.get("temporal")) and (expiry is None or expiry > now_ms)


def read_action(rt: Runtime, body: dict[str, Any], problems: Problems) -> Doc:
    """
    The ``action`` of an apply request, checked except for the actionee.
    """
    check_storable(body, "", problems)
    f = Fields(body.get("action"), "action.", problems)
    definition_id = f.uuid("userActionId", required=True)
    found = rt.system.get("useraction", definition_id) if definition_id else None
    if definition_id and (found is None or not found.get("active")):
        problems.invalid("action.userActionId")
    definition: Doc = found or {}
    action = {
        "actioneeUserId": f.uuid("actioneeUserId", required=True),
        "actionerUserId": f.uuid("actionerUserId"),
        "userActionId": definition_id,
        "applicationIds": _application_ids(rt, f),
        "comment": f.str("comment"),
        "option": _option(f, definition),
        "expiry": _expiry(rt, f, definition),
        "name": definition.get("name"),
        "localizedName": definition.get("name"),
        "preventLogin": bool(definition.get("preventLogin")),
        "temporal": bool(definition.get("temporal")),
    }
    if action["temporal"]:
        action["emailUserOnEnd"] = f.bool("emailUser")
        action["notifyUserOnEnd"] = f.bool("notifyUser")
        action["endEventSent"] = False
    # TODO(parity): reasonId (user action reasons) and broadcast (webhooks) are
    # accepted and ignored, https://fusionauth.io/docs/apis/actioning-users
    f.uuid("reasonId")
    return {k: v for k, v in action.items() if v is not None}


def _application_ids(rt: Runtime, f: Fields) -> list[str]:
    given = f.str_list("applicationIds") or []
    parsed = [parse_uuid(a) for a in given]
    if any(a is None for a in parsed):
        f.problems.add(
            "action.applicationIds",
            "couldNotConvert",
            "Invalid value for 'action.applicationIds'.",
        )
    elif any(application(rt, a) is None for a in parsed):
        f.problems.invalid("action.applicationIds")
    return [a for a in parsed if a is not None]


def _option(f: Fields, definition: Doc) -> str | None:
    option = f.str("option")
    names = [o.get("name") for o in definition.get("options", [])]
    if option is not None and names and option not in names:
        f.problems.invalid("action.option")
    return option


def _expiry(rt: Runtime, f: Fields, definition: Doc) -> int | None:
    before = len(f.problems.errors)
    expiry = f.int("expiry")
    if not definition.get("temporal"):
        return None
    if expiry is None and len(f.problems.errors) == before:
        f.problems.blank("action.expiry")
    elif expiry is not None and expiry <= rt.clock():
        f.problems.invalid("action.expiry", "The expiry must be in the future.")
    return expiry


async def apply_action(rt: Runtime, body: dict[str, Any]) -> Doc:
    """
    Apply a user action to its actionee; the action as FusionAuth shows it.
    """
    problems = Problems()
    action = read_action(rt, body, problems)
    await _check_user(rt, action.get("actionerUserId"), "actionerUserId", problems)
    action.update(id=str(uuid.uuid4()), insertInstant=rt.clock())
    user_id = action.get("actioneeUserId")
    if user_id is None:
        raise_problems(problems)
    index = keys.user_action_index(action["id"])

    async def attempt() -> Doc:
        version, doc = await load_user(rt, str(user_id))
        if doc is None:
            problems.invalid("action.actioneeUserId")
        raise_problems(problems)
        await rt.redis.set(index, str(user_id))
        events = _apply_events(rt, str(user_id), action)
        await commit_user(rt, str(user_id), version, doc, events)
        return action

    try:
        applied = await retrying(attempt)
    except BaseException:
        await rt.redis.delete(index)
        raise
    return action_view(applied)


def _apply_events(rt: Runtime, user_id: str, action: Doc) -> list[Any]:
    events: list[Any] = [user_events.UserActionApplied(action)]
    if action["preventLogin"] and revokes_on_login_prevented(rt):
        # The tenant's refreshTokenRevocationPolicy.onLoginPrevented (§7.4).
        revoked = RefreshTokensRevoked(user_id, [], "loginPrevented", every_token=True)
        events.append(revoked)
    return events


async def _check_user(
    rt: Runtime, user_id: str | None, name: str, problems: Problems
) -> None:
    if user_id is not None and (await load_user(rt, user_id))[1] is None:
        problems.invalid(f"action.{name}")


async def _actionee(rt: Runtime, action_id: str) -> str:
    found = await rt.redis.get(keys.user_action_index(action_id))
    if found is None:
        raise NotFound()
    return found.decode() if isinstance(found, bytes) else str(found)


async def retrieve_action(rt: Runtime, action_id: str) -> Doc:
    """
    One applied action by its id, or 404.
    """
    _version, doc = await load_user(rt, await _actionee(rt, action_id))
    for action in (doc or {}).get("_actions", []):
        if action["id"] == action_id:
            return action_view(action)
    raise NotFound()


async def cancel_action(rt: Runtime, action_id: str, body: dict[str, Any]) -> Doc:
    """
    Cancel an applied action; the action as it was, with the cancel comment.
    """
    problems = Problems()
    check_storable(body, "", problems)
    f = Fields(body.get("action"), "action.", problems)
    actioner, comment = f.uuid("actionerUserId"), f.str("comment")
    raise_problems(problems)
    user_id = await _actionee(rt, action_id)

    async def attempt() -> Doc:
        version, doc = await load_user(rt, user_id)
        found: list[Doc] = [
            a for a in (doc or {}).get("_actions", []) if a["id"] == action_id
        ]
        if not found:
            raise NotFound()
        event = user_events.UserActionCancelled(action_id, actioner, comment)
        await commit_user(rt, user_id, version, doc, [event])
        return found[0]

    cancelled = await retrying(attempt)
    await rt.redis.delete(keys.user_action_index(action_id))
    return action_view({**cancelled, "comment": comment or cancelled.get("comment")})


async def list_actions(
    rt: Runtime, user_id: str, *, active: bool | None, preventing: bool
) -> list[Doc]:
    """
    A user's applied actions, optionally only active or only preventing login.
    """
    _version, doc = await load_user(rt, user_id)
    if doc is None:
        raise NotFound()
    now = rt.clock()
    found = []
    for action in doc.get("_actions", []):
        if active is not None and in_force(action, now) != active:
            continue
        if preventing and not (action.get("preventLogin") and _unexpired(action, now)):
            continue
        found.append(action_view(action))
    return found


def _unexpired(action: Doc, now_ms: int) -> bool:
    expiry = action.get("expiry")
    return expiry is None or expiry > now_ms
