"""
Pure helpers for the admin APIs' JSON documents: FusionAuth's PATCH merge,
checks that a value can be stored, and declarative checks of settings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from loginsvc.errors import Problems

#: A rule returns the reason code of a bad value (``invalid``,
#: ``couldNotConvert``), or ``None`` when the value is fine.
Rule = Callable[[Any], str | None]

_INT64 = (-(2**63), 2**63)


def merge(base: Any, patch: Any, *, append_arrays: bool = True) -> Any:
    """
    ``base`` with ``patch`` merged in, as FusionAuth's PATCH does.

    Objects merge key by key, ``null`` removes a key, and arrays are appended
    (reference §7.2, FusionAuth's ``application/json`` PATCH); with
    ``append_arrays=False`` arrays are replaced, as RFC 7396 says.
    """
    if not isinstance(patch, dict):
        if append_arrays and isinstance(base, list) and isinstance(patch, list):
            return [*copy.deepcopy(base), *copy.deepcopy(patch)]
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(merged.get(key), value, append_arrays=append_arrays)
    return merged


def check_storable(value: Any, path: str, problems: Problems) -> None:
    """
    Report values JSON allows but the store cannot keep: integers beyond 64
    bits and strings with lone surrogates.
    """
    for where, item in _walk(value, path):
        if not storable(item):
            _convert(problems, where)


def _walk(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, key
            yield from _walk(item, where)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
    else:
        yield path, value


def storable(item: Any) -> bool:
    """
    Whether Redis and msgpack can keep this scalar as it is.
    """
    if isinstance(item, int) and not isinstance(item, bool):
        return _INT64[0] <= item < _INT64[1]
    if isinstance(item, str):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _convert(problems: Problems, path: str) -> None:
    problems.add(path, "couldNotConvert", f"Invalid value for '{path}'.")


# ---------------------------------------------------------------- settings rules


def section(value: Any) -> str | None:
    """
    A JSON object.
    """
    return None if isinstance(value, dict) else "couldNotConvert"


def boolean(value: Any) -> str | None:
    """
    A JSON boolean.
    """
    return None if isinstance(value, bool) else "couldNotConvert"


def text(value: Any) -> str | None:
    """
    A JSON string.
    """
    return None if isinstance(value, str) else "couldNotConvert"


def integer(minimum: int, maximum: int = _INT64[1] - 1) -> Rule:
    """
    A whole number from ``minimum`` to ``maximum``; others are invalid.
    """

    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "couldNotConvert"
        return None if minimum <= value <= maximum else "invalid"

    return rule


def one_of(*values: str) -> Rule:
    """
    One of the given strings; others are invalid.
    """

    def rule(value: Any) -> str | None:
        if not isinstance(value, str):
            return "couldNotConvert"
        return None if value in values else "invalid"

    return rule


def setting_at(doc: Any, path: str) -> Any:
    """
    The value at a dotted path, or ``None`` when any level is missing.
    """
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def check_settings(
    doc: Any,
    rules: Iterable[tuple[str, Rule]],
    prefix: str,
    problems: Problems,
    required: Iterable[str] = (),
) -> None:
    """
    Check each present setting against its rule; blank required ones.

    Rules for a section come before rules for its members, so a section of the
    wrong type is reported once and its members are skipped.
    """
    for path in required:
        if setting_at(doc, path) in (None, ""):
            problems.blank(prefix + path)
    for path, rule in rules:
        value = setting_at(doc, path)
        if value is None:
            continue
        reason = rule(value)
        if reason == "couldNotConvert":
            _convert(problems, prefix + path)
        elif reason:
            problems.invalid(prefix + path)


def raise_problems(problems: Problems) -> None:
    """
    Raise every distinct field error found, if any.
    """
    problems.errors = list(dict.fromkeys(problems.errors))
    problems.raise_if_any()
