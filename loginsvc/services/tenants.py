"""
Tenant use cases: retrieve, update and patch the default tenant, the only one
this version serves (https://fusionauth.io/docs/apis/tenants).

Every setting the login path reads is checked here, so no update can store a
value that makes a later login fail.
"""

from __future__ import annotations

from typing import Any

from events import system
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import NotFound, Problems
from loginsvc.http import without_nulls
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, retrying
from loginsvc.services.documents import (
    Rule,
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
from loginsvc.services.system import tenant
from loginsvc.tenant import default_tenant
from projections.store import Doc

KIND = "tenant"

#: Ten years: lifetimes beyond it are typing errors, and would overflow TTLs.
_SECONDS = integer(1, 10 * 365 * 86_400)
_MINUTES = integer(1, 10 * 365 * 1_440)

SETTABLE = (
    "name",
    "issuer",
    "data",
    "jwtConfiguration",
    "externalIdentifierConfiguration",
    "failedAuthenticationConfiguration",
    "emailConfiguration",
    "loginConfiguration",
    "multiFactorConfiguration",
    "passwordValidationRules",
)

_JWT = "jwtConfiguration."
_IDS = "externalIdentifierConfiguration."
_FAILED = "failedAuthenticationConfiguration."
_MFA = "multiFactorConfiguration."
_RULES = "passwordValidationRules."

RULES: tuple[tuple[str, Rule], ...] = (
    ("name", text),
    ("issuer", text),
    ("data", section),
    *((name, section) for name in SETTABLE[3:]),
    (_JWT + "enabled", boolean),
    (_JWT + "timeToLiveInSeconds", _SECONDS),
    (_JWT + "refreshTokenTimeToLiveInMinutes", _MINUTES),
    (
        _JWT + "refreshTokenExpirationPolicy",
        one_of("Fixed", "SlidingWindow", "SlidingWindowWithMaximumLifetime"),
    ),
    (_JWT + "refreshTokenUsagePolicy", one_of("Reusable", "OneTimeUse")),
    (_JWT + "accessTokenKeyId", text),
    (_JWT + "idTokenKeyId", text),
    (_JWT + "refreshTokenRevocationPolicy", section),
    *(
        (_JWT + "refreshTokenRevocationPolicy." + name, boolean)
        for name in (
            "onLoginPrevented",
            "onMultiFactorEnable",
            "onOneTimeTokenReuse",
            "onPasswordChanged",
        )
    ),
    (_JWT + "refreshTokenOneTimeUseConfiguration", section),
    (
        _JWT + "refreshTokenOneTimeUseConfiguration.gracePeriodInSeconds",
        integer(0, 86_400),
    ),
    (_JWT + "refreshTokenSlidingWindowConfiguration", section),
    (
        _JWT + "refreshTokenSlidingWindowConfiguration.maximumTimeToLiveInMinutes",
        _MINUTES,
    ),
    *(
        (_IDS + name, _SECONDS)
        for name in (
            "twoFactorIdTimeToLiveInSeconds",
            "twoFactorTrustIdTimeToLiveInSeconds",
            "twoFactorOneTimeCodeIdTimeToLiveInSeconds",
            "changePasswordIdTimeToLiveInSeconds",
            "oneTimePasswordTimeToLiveInSeconds",
            "trustTokenTimeToLiveInSeconds",
        )
    ),
    (_FAILED + "tooManyAttempts", integer(1, 1_000_000)),
    (_FAILED + "resetCountInSeconds", _SECONDS),
    (_FAILED + "actionDuration", integer(1, 1_000_000)),
    (
        _FAILED + "actionDurationUnit",
        one_of("MINUTES", "HOURS", "DAYS", "WEEKS", "MONTHS", "YEARS"),
    ),
    (_FAILED + "userActionId", text),
    (_FAILED + "emailUser", boolean),
    (_FAILED + "actionCancelPolicy", section),
    (_FAILED + "actionCancelPolicy.onPasswordReset", boolean),
    ("emailConfiguration.verifyEmail", boolean),
    ("emailConfiguration.verificationStrategy", one_of("ClickableLink", "FormField")),
    ("loginConfiguration.requireAuthentication", boolean),
    (_MFA + "loginPolicy", one_of("Enabled", "Disabled", "Required")),
    *((_MFA + name, section) for name in ("authenticator", "email", "sms")),
    *(
        (_MFA + name + ".enabled", boolean)
        for name in ("authenticator", "email", "sms")
    ),
    # Only what the TOTP adapter honours (loginsvc/totp.py).
    (_MFA + "authenticator.algorithm", one_of("HmacSHA1")),
    (_MFA + "authenticator.codeLength", integer(6, 6)),
    (_MFA + "authenticator.timeStep", integer(30, 30)),
    (_RULES + "minLength", integer(1, 256)),
    (_RULES + "maxLength", integer(1, 65_536)),
    *(
        (_RULES + name, boolean)
        for name in ("requireMixedCase", "requireNonAlpha", "requireNumber")
    ),
)


def settable(doc: Doc) -> Doc:
    """
    The fields of a tenant that a client sets.
    """
    return {k: v for k, v in doc.items() if k in SETTABLE}


def with_defaults(candidate: Doc) -> Doc:
    """
    FusionAuth's default for every setting left out, except name and issuer.
    """
    defaults = settable(default_tenant(0))
    for required in ("name", "issuer"):
        defaults.pop(required)
    return settable(merge(defaults, candidate, append_arrays=False))


def check(rt: Runtime, candidate: Doc, problems: Problems) -> None:
    """
    Check a whole candidate tenant, references to keys and user actions included.
    """
    check_settings(candidate, RULES, "tenant.", problems, ("name", "issuer"))
    for path in (_JWT + "accessTokenKeyId", _JWT + "idTokenKeyId"):
        _reference(rt, candidate, path, "key", problems)
    _reference(rt, candidate, _FAILED + "userActionId", "useraction", problems)
    minimum = setting_at(candidate, _RULES + "minLength")
    maximum = setting_at(candidate, _RULES + "maxLength")
    if isinstance(minimum, int) and isinstance(maximum, int) and maximum < minimum:
        problems.invalid("tenant." + _RULES + "maxLength")


def _reference(
    rt: Runtime, candidate: Doc, path: str, kind: str, problems: Problems
) -> None:
    ident = setting_at(candidate, path)
    if isinstance(ident, str) and rt.system.get(kind, ident) is None:
        problems.invalid("tenant." + path)


def list_tenants(rt: Runtime) -> list[Doc]:
    """
    Every tenant: the default one.
    """
    return [tenant(rt)]


def retrieve_tenant(rt: Runtime, tenant_id: str) -> Doc:
    """
    The tenant with this id, or 404.
    """
    if tenant_id != DEFAULT_TENANT_ID:
        raise NotFound()
    return tenant(rt)


async def update_tenant(
    rt: Runtime, tenant_id: str, body: dict[str, Any], patch: str | None = None
) -> Doc:
    """
    Replace (PUT) or merge into (PATCH) the tenant's settings; a setting left
    out or set to null gets FusionAuth's default.
    """

    async def attempt() -> Doc:
        current = retrieve_tenant(rt, tenant_id)
        problems = Problems()
        check_storable(body, "", problems)
        given = body.get("tenant")
        if not isinstance(given, dict):
            problems.add("tenant", "couldNotConvert", "Invalid value for 'tenant'.")
            given = {}
        if patch is None:
            candidate = without_nulls(given)
        else:
            candidate = merge(settable(current), given, append_arrays=patch == "merge")
        candidate = with_defaults(settable(candidate))
        check(rt, candidate, problems)
        raise_problems(problems)
        kept = {k: v for k, v in current.items() if k not in SETTABLE}
        doc = {**kept, **candidate, "lastUpdateInstant": rt.clock()}
        stored = await commit_system(rt, KIND, tenant_id, [system.TenantUpdated(doc)])
        assert stored is not None
        return stored

    return await retrying(attempt)
