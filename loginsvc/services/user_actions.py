"""
User action definitions: the actions (such as a prevent-login lock) that can
later be applied to users (https://fusionauth.io/docs/apis/user-actions).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from events import system
from loginsvc.errors import NotFound, Problems
from loginsvc.http import Fields
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, retrying
from loginsvc.services.documents import check_storable, raise_problems
from projections.store import Doc

KIND = "useraction"

_FLAGS = (
    "preventLogin",
    "temporal",
    "userNotificationsEnabled",
    "userEmailingEnabled",
    "sendEndEvent",
    "includeEmailInEventJSON",
)
_TEMPLATES = (
    "startEmailTemplateId",
    "modifyEmailTemplateId",
    "cancelEmailTemplateId",
    "endEmailTemplateId",
)


def read_definition(given: Any, problems: Problems) -> Doc:
    """
    The settable fields of a ``userAction`` object, checked.
    """
    f = Fields(given, "userAction.", problems)
    doc: Doc = {"name": f.str("name", required=True)}
    for flag in _FLAGS:
        doc[flag] = f.bool(flag)
    for template in _TEMPLATES:
        doc[template] = f.uuid(template)
    doc["localizedNames"] = _localized(f, "localizedNames")
    doc["options"] = _options(f)
    return {k: v for k, v in doc.items() if v is not None}


def _localized(f: Fields, name: str) -> dict[str, str] | None:
    value = f.dict(name)
    if value is not None and not all(isinstance(v, str) for v in value.values()):
        f.problems.add(
            f.path(name), "couldNotConvert", f"Invalid value for '{f.path(name)}'."
        )
        return None
    return value


def _options(f: Fields) -> list[Doc] | None:
    value = f.raw("options")
    if value is None:
        return None
    if not isinstance(value, list):
        f.problems.add(
            f.path("options"), "couldNotConvert", "Invalid value for 'options'."
        )
        return None
    options = []
    for item in value:
        option = Fields(item, "userAction.options.", f.problems)
        entry = {
            "name": option.str("name", required=True),
            "localizedNames": _localized(option, "localizedNames"),
        }
        options.append({k: v for k, v in entry.items() if v is not None})
    return options


def _checked(body: dict[str, Any]) -> Doc:
    problems = Problems()
    check_storable(body, "", problems)
    fields = read_definition(body.get("userAction"), problems)
    raise_problems(problems)
    return fields


def retrieve_definition(rt: Runtime, definition_id: str) -> Doc:
    """
    A user action definition, active or not, or 404.
    """
    found = rt.system.get(KIND, definition_id)
    if found is None:
        raise NotFound()
    return found


def list_definitions(rt: Runtime, inactive: bool = False) -> list[Doc]:
    """
    The active definitions by name, or with ``inactive`` the others.
    """
    found = [d for d in rt.system.all(KIND) if bool(d.get("active")) != inactive]
    return sorted(found, key=lambda d: str(d.get("name")))


async def create_definition(
    rt: Runtime, body: dict[str, Any], definition_id: str | None = None
) -> Doc:
    """
    Define a user action; ``[duplicate]userAction.id`` if it exists.
    """
    fields = _checked(body)
    ident = definition_id or str(uuid.uuid4())

    async def attempt() -> Doc:
        if rt.system.get(KIND, ident) is not None:
            problems = Problems()
            problems.add(
                "userAction.id", "duplicate", "A user action with this id exists."
            )
            raise_problems(problems)
        now = rt.clock()
        doc = {"id": ident, **fields, "active": True}
        doc.update(insertInstant=now, lastUpdateInstant=now)
        return await _commit(rt, doc)

    return await retrying(attempt)


async def update_definition(
    rt: Runtime, definition_id: str, body: dict[str, Any]
) -> Doc:
    """
    Replace a definition's settable fields; id, state and insertInstant stay.
    """
    fields = _checked(body)

    async def attempt() -> Doc:
        current = retrieve_definition(rt, definition_id)
        kept = {k: current[k] for k in ("id", "active", "insertInstant")}
        return await _commit(rt, {**kept, **fields, "lastUpdateInstant": rt.clock()})

    return await retrying(attempt)


async def set_active(rt: Runtime, definition_id: str, active: bool) -> Doc:
    """
    Deactivate or reactivate a definition.
    """

    async def attempt() -> Doc:
        doc = copy.deepcopy(retrieve_definition(rt, definition_id))
        doc.update(active=active, lastUpdateInstant=rt.clock())
        return await _commit(rt, doc)

    return await retrying(attempt)


async def delete_definition(rt: Runtime, definition_id: str) -> None:
    """
    Delete a definition for good; actions already applied keep their copy.
    """

    async def attempt() -> None:
        retrieve_definition(rt, definition_id)
        event = system.UserActionDefinitionDeleted()
        await commit_system(rt, KIND, definition_id, [event])

    await retrying(attempt)


async def _commit(rt: Runtime, doc: Doc) -> Doc:
    event = system.UserActionDefined(doc)
    stored = await commit_system(rt, KIND, doc["id"], [event])
    assert stored is not None
    return stored
