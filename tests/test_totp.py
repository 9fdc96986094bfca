from __future__ import annotations

import base64
import re

import pyotp
import pytest

from loginsvc import totp

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.

# RFC 6238 appendix B: the SHA-1 key is the ASCII string below.
RFC_SECRET = base64.b64encode(b"12345678901234567890").decode()
SERVER_KEY = bytes(range(32))
NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("now_s", "code"),
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
    ],
)
def test_rfc_6238_sha1_vectors_verify_at_their_step(now_s: int, code: str) -> None:
    """
    The last six digits of each RFC 6238 SHA-1 vector verify at its own step.
    """
    assert (now_s // 30, code) == (
        totp.verify_code(RFC_SECRET, code, now_s, None),
        totp.current_code(RFC_SECRET, now_s),
    )


def test_leading_zeros_are_significant() -> None:
    """
    A code is compared as an exact six-digit string.
    """
    assert None is totp.verify_code(RFC_SECRET, "5924", 1234567890, None)


@pytest.mark.parametrize(
    "code", ["", "28708", "2870820", "28708a", " 287082", "２８７０８２"]
)
def test_a_code_that_is_not_six_ascii_digits_is_refused(code: str) -> None:
    """
    Short, long, non-digit, padded and full-width codes never match.
    """
    assert None is totp.verify_code(RFC_SECRET, code, 59, None)


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_code_one_step_either_side_is_accepted(offset: int) -> None:
    """
    The previous and next steps' codes are accepted and their step returned.
    """
    step = int(NOW) // 30 + offset
    code = totp.current_code(RFC_SECRET, step * 30)

    assert step == totp.verify_code(RFC_SECRET, code, NOW, None)


@pytest.mark.parametrize("offset", [-2, 2])
def test_a_code_two_steps_away_is_refused(offset: int) -> None:
    """
    Codes two steps before or after now fall outside the window.
    """
    code = totp.current_code(RFC_SECRET, NOW + offset * 30)

    assert None is totp.verify_code(RFC_SECRET, code, NOW, None)


def test_a_code_is_refused_once_its_step_was_accepted() -> None:
    """
    Passing the accepted step back as last_step stops the same code replaying.
    """
    code = totp.current_code(RFC_SECRET, NOW)
    step = totp.verify_code(RFC_SECRET, code, NOW, None)

    assert None is totp.verify_code(RFC_SECRET, code, NOW, step)


def test_an_earlier_step_is_refused_after_a_later_one_was_accepted() -> None:
    """
    The previous step's code is refused once the current step has been used.
    """
    current = int(NOW) // 30
    earlier = totp.current_code(RFC_SECRET, NOW - 30)

    assert None is totp.verify_code(RFC_SECRET, earlier, NOW, current)


def test_a_later_step_is_accepted_after_an_earlier_one() -> None:
    """
    The next step's code still works when only the previous step was used.
    """
    current = int(NOW) // 30
    code = totp.current_code(RFC_SECRET, NOW)

    assert current == totp.verify_code(RFC_SECRET, code, NOW, current - 1)


def test_new_secret_forms_describe_the_same_key() -> None:
    """
    The base64 and base32 forms of a new secret decode to the same 20 bytes.
    """
    secret_b64, secret_b32 = totp.new_secret()
    key = base64.b64decode(secret_b64)

    assert 20 == len(key)
    assert (key, secret_b32) == (base64.b32decode(secret_b32), totp._b32(key))
    assert secret_b64 == totp.base64_from_base32(secret_b32)
    assert secret_b32 == totp.base32_from_base64(secret_b64)


def test_a_code_from_an_authenticator_app_with_the_base32_secret_verifies() -> None:
    """
    pyotp given the base32 form, as an app scanning the QR code is, agrees with us.
    """
    secret_b64, secret_b32 = totp.new_secret()
    code = pyotp.TOTP(secret_b32).at(NOW)

    assert int(NOW) // 30 == totp.verify_code(secret_b64, code, NOW, None)


def test_base32_is_accepted_in_lower_case_and_without_padding() -> None:
    """
    A 16-byte key's base32 needs padding; lower case without it still converts.
    """
    key = bytes(range(16))
    padded = base64.b32encode(key).decode()

    assert "=" in padded
    assert base64.b64encode(key).decode() == totp.base64_from_base32(
        padded.rstrip("=").lower()
    )


@pytest.mark.parametrize("bad", ["", "not base32!", "A", "MZXW6YTBOI"])
def test_bad_base32_raises_value_error(bad: str) -> None:
    """
    Invalid alphabet, impossible lengths and too-short keys are refused.
    """
    with pytest.raises(ValueError, match="'secretBase32Encoded'|at least"):
        totp.base64_from_base32(bad)


@pytest.mark.parametrize("bad", ["", "not base64!", "QUJD", "é"])
def test_bad_base64_raises_value_error(bad: str) -> None:
    """
    Invalid alphabet, non-ASCII and too-short keys are refused.
    """
    with pytest.raises(ValueError, match="'secret'|at least"):
        totp.base32_from_base64(bad)


def test_recovery_codes_look_like_fusionauths() -> None:
    """
    Ten distinct codes of five and five upper-case base32 characters.
    """
    codes = totp.new_recovery_codes()

    assert 10 == len(set(codes))
    assert all(re.fullmatch(r"[A-Z2-7]{5}-[A-Z2-7]{5}", c) for c in codes)


def test_recovery_code_count_is_honoured() -> None:
    """
    Asking for three codes gives three.
    """
    assert 3 == len(totp.new_recovery_codes(3))


def test_normalized_recovery_codes_match_whatever_the_case_dash_and_spaces() -> None:
    """
    Lower case, no dash, or spaces all normalise to the same key.
    """
    forms = ["QJD73-L6GR5", "qjd73l6gr5", " qjd73 - L6GR5 ", "QJD73L6GR5"]

    assert {"QJD73L6GR5"} == {totp.normalize_recovery_code(f) for f in forms}


def test_method_ids_are_four_upper_case_alphanumerics() -> None:
    """
    Method ids look like FusionAuth's ``2KSZ``.
    """
    ids = [totp.new_method_id() for _ in range(50)]

    assert all(re.fullmatch(r"[A-Z0-9]{4}", i) for i in ids)


def test_seal_then_unseal_returns_the_secret() -> None:
    """
    A sealed secret opens with the same key and is compact ASCII.
    """
    secret_b64, _ = totp.new_secret()
    sealed = totp.seal(secret_b64, SERVER_KEY)

    assert secret_b64 == totp.unseal(sealed, SERVER_KEY)
    assert sealed.isascii() and secret_b64 not in sealed


def test_sealing_twice_gives_different_text() -> None:
    """
    A fresh nonce per seal hides that two users share a secret.
    """
    assert totp.seal(RFC_SECRET, SERVER_KEY) != totp.seal(RFC_SECRET, SERVER_KEY)


def test_a_tampered_seal_is_refused_without_quoting_the_secret() -> None:
    """
    Flipping one character makes unseal raise ValueError with no secret inside.
    """
    sealed = totp.seal(RFC_SECRET, SERVER_KEY)
    flipped = "A" if sealed[10] != "A" else "B"
    tampered = sealed[:10] + flipped + sealed[11:]

    with pytest.raises(ValueError) as caught:
        totp.unseal(tampered, SERVER_KEY)

    assert RFC_SECRET not in str(caught.value)


@pytest.mark.parametrize("sealed", ["", "v1.", "v1.!!!", "nonsense"])
def test_malformed_seals_are_refused(sealed: str) -> None:
    """
    Empty, truncated and non-base64 seals raise ValueError.
    """
    with pytest.raises(ValueError, match="damaged"):
        totp.unseal(sealed, SERVER_KEY)


def test_a_seal_does_not_open_with_another_key() -> None:
    """
    Unsealing with a different server key raises ValueError.
    """
    sealed = totp.seal(RFC_SECRET, SERVER_KEY)

    with pytest.raises(ValueError, match="another key"):
        totp.unseal(sealed, bytes(32))


def test_a_server_key_of_the_wrong_length_is_refused() -> None:
    """
    AES-256-GCM needs exactly 32 bytes of key.
    """
    with pytest.raises(ValueError, match="32 bytes"):
        totp.seal(RFC_SECRET, b"short")


def test_digest_is_hex_sha256() -> None:
    """
    The digest of "abc" is the FIPS 180-2 test vector.
    """
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    assert expected == totp.digest("abc")
