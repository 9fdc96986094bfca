"""
The error middleware (FusionAuth's Errors JSON) and the access log line.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from loginsvc.errors import (
    BareStatus,
    LoginPrevented,
    LoginServiceError,
    Overloaded,
    PayloadTooLarge,
    StoreUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from loginsvc.http import empty, json_response

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("loginsvc.access")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)

INTERNAL = {
    "generalErrors": [
        {
            "code": "[Exception]",
            "message": "The service encountered an unexpected error.",
        }
    ]
}


def render(error: LoginServiceError) -> web.Response:
    """
    The response for one of our errors, picked by its class.
    """
    if isinstance(error, ValidationFailed):
        return json_response(error.as_json(), 400)
    if isinstance(error, LoginPrevented):
        return json_response({"actions": error.actions}, 409)
    if isinstance(error, (Overloaded, StoreUnavailable)):
        body = {"generalErrors": [{"code": error.code, "message": error.message}]}
        response = json_response(body, 503)
        response.headers["Retry-After"] = "1"
        return response
    if isinstance(error, TooManyRequests):
        body = {"generalErrors": [{"code": error.code, "message": error.message}]}
        response = json_response(body, 429)
        response.headers["Retry-After"] = str(error.retry_after_s)
        return response
    if isinstance(error, PayloadTooLarge):
        return json_response(
            {
                "generalErrors": [
                    {"code": "[TooLarge]", "message": "The request body is too large."}
                ]
            },
            413,
        )
    if isinstance(error, BareStatus):
        return empty(error.status)
    return json_response(INTERNAL, 500)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """
    Turn raised errors into FusionAuth responses; log only the unexpected ones.
    """
    try:
        return await handler(request)
    except LoginServiceError as error:
        return render(error)
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        logger.warning("store_unavailable error=%s", type(error).__name__)
        return render(StoreUnavailable())
    except web.HTTPRequestEntityTooLarge:
        return render(PayloadTooLarge())
    except web.HTTPException:
        raise
    except Exception:
        logger.exception(
            "request_failed method=%s path=%s", request.method, request.path
        )
        return json_response(INTERNAL, 500)


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """
    One line per request, with a request id bound for everything it logs.
    """
    token = request_id.set(request.headers.get("X-Request-Id") or secrets.token_hex(8))
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as http_error:
        status = http_error.status
        raise
    finally:
        access_logger.info(
            "request_handled request_id=%s method=%s path=%s status=%s "
            "duration_ms=%.1f",
            request_id.get(),
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )
        request_id.reset(token)
