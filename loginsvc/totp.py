"""
Authenticator (TOTP) codes, recovery codes, method ids and sealed secrets.

FusionAuth stores a TOTP secret as base64 of the key and hands authenticator apps
its base32 form; both describe the same bytes. Only HMAC-SHA1, 6 digits and 30 s
steps are honoured, checked at the current step and one either side
(https://fusionauth.io/docs/apis/two-factor). Unlike FusionAuth, an accepted step
is remembered by the caller and refused afterwards (RFC 6238 section 5.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Bytes of key in a new secret, as RFC 4226 section 4 recommends (160 bits).
SECRET_BYTES = 20
#: pyotp refuses keys shorter than 112 bits (NIST SP 800-63B-4 section 3.1.4.1).
MIN_SECRET_BYTES = 14
#: Steps checked on either side of the current one.
WINDOW = 1

_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_METHOD_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SEAL_PREFIX = "v1."
_SEAL_AAD = b"loginsvc:totp-secret:v1"
_NONCE_BYTES = 12


def new_secret() -> tuple[str, str]:
    """
    Make a random key and return it as (base64, base32 without padding).
    """
    key = secrets.token_bytes(SECRET_BYTES)
    return _b64(key), _b32(key)


def base32_from_base64(secret_b64: str) -> str:
    """
    Turn the stored base64 form into the base32 form authenticator apps use.
    """
    return _b32(_key_from_base64(secret_b64))


def base64_from_base32(secret_b32: str) -> str:
    """
    Turn a base32 secret, any case, padded or not, into the stored base64 form.
    """
    unpadded = secret_b32.upper().rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 8)
    try:
        key = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise ValueError("The value of 'secretBase32Encoded' is not base32.") from None
    return _b64(_checked_length(key))


def verify_code(
    secret_b64: str, code: str, now_s: float, last_step: int | None
) -> int | None:
    """
    Return the time step the code matches, or None; steps <= last_step are refused.
    """
    if not _CODE.fullmatch(code):
        return None
    totp = _totp(secret_b64)
    current = totp.timecode(now_s)

    for step in range(current - WINDOW, current + WINDOW + 1):
        if step < 0 or (last_step is not None and step <= last_step):
            continue
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode("ascii"), code.encode("ascii")):
            return step
    return None


def current_code(secret_b64: str, now_s: float) -> str:
    """
    The code an authenticator app shows at ``now_s``.
    """
    return _totp(secret_b64).at(now_s)


def new_recovery_codes(count: int = 10) -> list[str]:
    """
    Make distinct recovery codes shaped like FusionAuth's, such as ``QJD73-L6GR5``.
    """
    codes: set[str] = set()
    while len(codes) < count:
        chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.add(f"{chars[:5]}-{chars[5:]}")
    return sorted(codes)


def normalize_recovery_code(code: str) -> str:
    """
    Upper-case a recovery code and drop dashes and spaces, for matching.
    """
    return "".join(code.upper().replace("-", "").split())


def new_method_id() -> str:
    """
    Make a two-factor method id: 4 upper-case letters or digits, such as ``2KSZ``.
    """
    return "".join(secrets.choice(_METHOD_ID_ALPHABET) for _ in range(4))


def seal(secret_b64: str, server_key: bytes) -> str:
    """
    Encrypt a secret with AES-256-GCM under the server key, as compact ASCII.
    """
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _aead(server_key).encrypt(nonce, secret_b64.encode(), _SEAL_AAD)
    return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(sealed: str, server_key: bytes) -> str:
    """
    Decrypt what ``seal`` made; ValueError if it was altered or the key differs.
    """
    aead = _aead(server_key)
    body = sealed.removeprefix(_SEAL_PREFIX)
    try:
        padded = body + "=" * (-len(body) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _SEAL_AAD)
    except (InvalidTag, ValueError):
        plain = None
    if plain is None or body == sealed:
        raise ValueError("The sealed secret is damaged or was sealed with another key.")
    return plain.decode()


def digest(value: str) -> str:
    """
    Hex SHA-256 of a value, the only form in which tokens and codes are stored.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def _totp(secret_b64: str) -> pyotp.TOTP:
    return pyotp.TOTP(base32_from_base64(secret_b64))


def _key_from_base64(secret_b64: str) -> bytes:
    unpadded = secret_b64.rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    try:
        key = base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The value of 'secret' is not base64.") from None
    return _checked_length(key)


def _checked_length(key: bytes) -> bytes:
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"The two-factor secret must be at least {MIN_SECRET_BYTES} bytes."
        )
    return key


def _aead(server_key: bytes) -> AESGCM:
    if len(server_key) != 32:
        raise ValueError("The server key must be 32 bytes for AES-256-GCM.")
    return AESGCM(server_key)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _b32(key: bytes) -> str:
    return base64.b32encode(key).decode("ascii").rstrip("=")
