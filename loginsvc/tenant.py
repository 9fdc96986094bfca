"""
The default tenant's settings, with FusionAuth's defaults (JC ``Tenant``).
"""

from __future__ import annotations

from typing import Any

from loginsvc.defaults import DEFAULT_SIGNING_KEY_ID, DEFAULT_TENANT_ID


def default_tenant(now_ms: int) -> dict[str, Any]:
    """
    A new default tenant, as FusionAuth ships it.
    """
    return {
        "id": DEFAULT_TENANT_ID,
        "name": "Default",
        "issuer": "acme.com",
        "state": "Active",
        "insertInstant": now_ms,
        "lastUpdateInstant": now_ms,
        "jwtConfiguration": {
            "enabled": True,
            "timeToLiveInSeconds": 3600,
            "refreshTokenTimeToLiveInMinutes": 43200,
            "refreshTokenExpirationPolicy": "Fixed",
            "refreshTokenUsagePolicy": "Reusable",
            "accessTokenKeyId": DEFAULT_SIGNING_KEY_ID,
            "idTokenKeyId": DEFAULT_SIGNING_KEY_ID,
            "refreshTokenRevocationPolicy": {
                "onLoginPrevented": True,
                "onMultiFactorEnable": False,
                "onOneTimeTokenReuse": False,
                "onPasswordChanged": True,
            },
            "refreshTokenOneTimeUseConfiguration": {"gracePeriodInSeconds": 0},
            "refreshTokenSlidingWindowConfiguration": {
                "maximumTimeToLiveInMinutes": 43200
            },
        },
        "externalIdentifierConfiguration": {
            "twoFactorIdTimeToLiveInSeconds": 300,
            "twoFactorTrustIdTimeToLiveInSeconds": 2592000,
            "twoFactorOneTimeCodeIdTimeToLiveInSeconds": 60,
            "changePasswordIdTimeToLiveInSeconds": 600,
            "oneTimePasswordTimeToLiveInSeconds": 60,
            "trustTokenTimeToLiveInSeconds": 180,
        },
        "failedAuthenticationConfiguration": {
            "tooManyAttempts": 5,
            "resetCountInSeconds": 60,
            "actionDuration": 3,
            "actionDurationUnit": "MINUTES",
            "emailUser": False,
            "actionCancelPolicy": {"onPasswordReset": False},
        },
        "emailConfiguration": {
            "verifyEmail": False,
            "verificationStrategy": "ClickableLink",
        },
        "loginConfiguration": {"requireAuthentication": True},
        "multiFactorConfiguration": {
            "loginPolicy": "Enabled",
            "authenticator": {
                "enabled": True,
                "algorithm": "HmacSHA1",
                "codeLength": 6,
                "timeStep": 30,
            },
            "email": {"enabled": False},
            "sms": {"enabled": False},
        },
        "passwordValidationRules": {"minLength": 8, "maxLength": 256},
    }


def setting(tenant: dict[str, Any], *path: str, default: Any = None) -> Any:
    """
    A nested tenant setting, or ``default`` when any level is missing.
    """
    node: Any = tenant
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
