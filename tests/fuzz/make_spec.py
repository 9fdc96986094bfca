"""
Cut FusionAuth's OpenAPI document down to the endpoints the fuzz run drives,
with the corrections the document needs (behaviour reference §10).

Run from the repository root after the shared document changes::

    .venv/bin/python tests/fuzz/make_spec.py [path/to/fusionauth-openapi.yaml]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

SOURCE = Path("/work/shared/reference/fusionauth-openapi.yaml")
TARGET = Path(__file__).with_name("openapi.json")

#: The Login API surface the product serves, by path and method.
SUBSET = {
    "/api/login": ["post"],
    "/api/login/{userId}/{applicationId}": ["put"],
    "/api/two-factor/login": ["post"],
    "/api/two-factor/start": ["post"],
    "/api/logout": ["post"],
    "/api/jwt/refresh": ["post", "get"],
    "/api/jwt/validate": ["get"],
    "/api/jwt/public-key": ["get"],
    "/api/user/recent-login": ["get"],
    "/api/status": ["get"],
}

#: Statuses FusionAuth answers with an empty body (reference, conventions).
EMPTY = {
    "401": "API key missing or not allowed",
    "404": "Not found, or wrong credentials",
    "410": "The user has expired",
    "421": "The two-factor code was wrong",
    "423": "The user is deactivated",
}
ERRORS = {"$ref": "#/components/schemas/Errors"}
LOGIN = {"$ref": "#/components/schemas/LoginResponse"}
LOGIN_STATUSES = ("202", "203", "212", "242")
PREVENTED = {
    "type": "object",
    "properties": {"actions": {"type": "array", "items": {"type": "object"}}},
    "required": ["actions"],
}


def cut(document: dict[str, Any]) -> dict[str, Any]:
    """
    The subset of ``document`` with every schema it refers to, corrected.
    """
    paths = {}
    for path, methods in SUBSET.items():
        item = document["paths"][path]
        paths[path] = {m: correct(path, copy.deepcopy(item[m])) for m in methods}
    schemas = document["components"]["schemas"]
    kept = {name: schemas[name] for name in sorted(referenced(paths, schemas))}
    kept["Errors"] = corrected_errors(kept["Errors"])
    return {
        "openapi": document["openapi"],
        "info": {**document["info"], "title": "loginsvc fuzz subset"},
        "security": document["security"],
        "paths": paths,
        "components": {
            "schemas": kept,
            "securitySchemes": document["components"]["securitySchemes"],
        },
    }


def correct(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """
    Document every status the server answers with, as FusionAuth does.
    """
    responses = operation["responses"]
    for status, description in EMPTY.items():
        responses.setdefault(status, {"description": description})
    for status in ("400", "413", "429", "503"):
        responses.setdefault(status, _json("Errors", ERRORS))
    if path in ("/api/login", "/api/two-factor/login"):
        for status in LOGIN_STATUSES:
            responses.setdefault(status, _json("Login outcome", LOGIN))
        responses["409"] = _json("Login prevented by a user action", PREVENTED)
    if path == "/api/jwt/public-key":
        # The docs and the official client say `kid`; the document `keyId`.
        kid = {"in": "query", "name": "kid", "schema": {"type": "string"}}
        operation["parameters"].append(kid)
    return operation


def corrected_errors(errors: dict[str, Any]) -> dict[str, Any]:
    """
    ``fieldErrors`` is a map from field path to a list of errors, not a list.
    """
    fixed = copy.deepcopy(errors)
    fixed["properties"]["fieldErrors"] = {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Error"},
        },
    }
    return fixed


def referenced(node: Any, schemas: dict[str, Any]) -> set[str]:
    """
    The names of every schema reachable from ``node`` through ``$ref``.
    """
    found: set[str] = {"Errors", "Error"}
    pending = [node, schemas["Errors"]]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    text = json.dumps(cut(document), indent=1, sort_keys=True) + "\n"
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
