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
    ConcurrencyConflict,
    LoginPrevented,
    LoginServiceError,
    PayloadTooLarge,
    StoreUnavailable,
    TooManyRequests,
    Unavailable,
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
    if isinstance(error, Unavailable):
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
    logger.error("error_unrendered error=%s", type(error).__name__)
    return json_response(INTERNAL, 500)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """
    Turn raised errors into FusionAuth responses; log only the unexpected ones.
    """
    try:
        return await handler(request)
    except LoginServiceError as error:
        if isinstance(error, ConcurrencyConflict):
            logger.warning("retries_exhausted path=%s", route_path(request))
        return render(error)
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        logger.warning("store_unavailable error=%s", type(error).__name__)
        return render(StoreUnavailable())
    except web.HTTPRequestEntityTooLarge:
        return render(PayloadTooLarge())
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as error:
        # FusionAuth answers unknown paths and methods with an empty body.
        return empty(error.status)
    except web.HTTPException:
        raise
    except Exception:
        logger.exception(
            "request_failed method=%s path=%s", request.method, request.path
        )
        return json_response(INTERNAL, 500)


def route_path(request: web.Request) -> str:
    """
    The route's template, never the raw path: path ids can be secrets.

    ``/api/two-factor/status/{twoFactorTrustId}`` skips MFA for whoever holds
    the id, so the log says ``{trustId}`` instead of the value.
    """
    resource = request.match_info.route.resource
    if resource is None:
        return "-"
    return resource.canonical


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
            route_path(request),
            status,
            (time.perf_counter() - started) * 1000,
        )
        request_id.reset(token)
