"""
Login history: ``GET /api/user/recent-login`` and ``GET /api/report/login``.
"""

from __future__ import annotations

from aiohttp import web

from loginsvc.api.auth import require_api_key, runtime
from loginsvc.http import Fields, json_response
from loginsvc.services import history
from loginsvc.services.lookup import user_id_for_login_id

routes = web.RouteTableDef()

MAX_LIMIT = 256
_BOOLS = {"false": "0", "true": "1"}


@routes.get("/api/user/recent-login")
async def get_recent_logins(request: web.Request) -> web.Response:
    require_api_key(request)
    # The Python client turns 0 and 1 into "false" and "true" (its
    # convert_true_false), so those words are read as the numbers they were.
    query = {k: _BOOLS.get(v, v) for k, v in request.query.items()}
    fields = Fields(query)
    user_id = fields.uuid("userId")
    offset = fields.int("offset") or 0
    limit = fields.int("limit")
    if offset < 0:
        fields.problems.invalid("offset")
    limit = 10 if limit is None else limit
    if not 0 < limit <= MAX_LIMIT:
        fields.problems.invalid("limit", f"The 'limit' must be 1 to {MAX_LIMIT}.")
    fields.problems.raise_if_any()
    logins = await history.recent_logins(runtime(request), user_id, offset, limit)
    return json_response({"logins": logins})


@routes.get("/api/report/login")
async def get_login_report(request: web.Request) -> web.Response:
    require_api_key(request)
    rt = runtime(request)
    fields = Fields(dict(request.query))
    start, end = fields.int("start"), fields.int("end")
    for name, value in (("start", start), ("end", end)):
        if value is None and not fields.has(name):
            fields.problems.missing(name)
    application_id = fields.uuid("applicationId")
    user_id = fields.uuid("userId")
    login_id = fields.str("loginId")
    fields.problems.raise_if_any()
    if login_id:
        # loginId beats userId (reference §3.5); an unknown one counts nothing.
        user_id = await user_id_for_login_id(rt, login_id)
        if user_id is None:
            return json_response({"hourlyCounts": [], "total": 0})
    report = await history.login_report(
        rt, start or 0, end or 0, application_id, user_id
    )
    return json_response(report)
