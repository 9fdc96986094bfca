from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from loginsvc.signing import (
    InvalidToken,
    KeyRing,
    SigningKey,
    generate_key,
    key_response,
)

# House style writes asserts as `expected == actual` (STYLE.md 22), which SIM300
# calls a Yoda condition.

NOW = 1_700_000_000
CLAIMS = {
    "iss": "acme.com",
    "sub": "3c5a4e0e-8f3c-4b7e-9b1e-2a7d6c1f0b11",
    "iat": NOW,
    "exp": NOW + 3600,
    "jti": "5f0f3c52-43c6-4d1e-8c5a-0f3a7f9b6d22",
    "authenticationType": "PASSWORD",
}


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {
        alg: generate_key(alg, f"00000000-0000-0000-0000-00000000{i:04d}", alg, NOW)
        for i, alg in enumerate(("HS256", "RS256", "ES256"))
    }


@pytest.fixture
def ring(keys: dict[str, SigningKey]) -> KeyRing:
    return KeyRing(keys.values())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def segments(token: str) -> list[str]:
    return token.split(".")


def decoded(segment: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return result


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_a_signed_token_verifies_to_the_same_claims(
    ring: KeyRing, keys: dict[str, SigningKey], alg: str
) -> None:
    """
    Signing then verifying returns exactly the claims given, for each key type.
    """
    token = ring.sign(keys[alg].id, CLAIMS)

    assert CLAIMS == ring.verify(token, NOW)


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_the_header_is_alg_typ_kid_like_fusionauth(
    ring: KeyRing, keys: dict[str, SigningKey], alg: str
) -> None:
    """
    The header carries alg, typ JWT and the key's kid, in FusionAuth's order.
    """
    token = ring.sign(keys[alg].id, CLAIMS)

    header = decoded(segments(token)[0])
    assert ["alg", "typ", "kid"] == list(header)
    assert {"alg": alg, "typ": "JWT", "kid": keys[alg].kid} == header


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_a_tampered_payload_is_rejected(
    ring: KeyRing, keys: dict[str, SigningKey], alg: str
) -> None:
    """
    Changing one claim while keeping the signature makes the token invalid.
    """
    header, _, signature = segments(ring.sign(keys[alg].id, CLAIMS))
    forged = b64url_json({**CLAIMS, "sub": "someone-else"})

    with pytest.raises(InvalidToken):
        ring.verify(f"{header}.{forged}.{signature}", NOW)


def test_a_token_from_an_unknown_kid_is_rejected(keys: dict[str, SigningKey]) -> None:
    """
    A token whose kid is not in the ring is invalid, even if otherwise well formed.
    """
    token = KeyRing([keys["HS256"]]).sign(keys["HS256"].id, CLAIMS)

    with pytest.raises(InvalidToken) as caught:
        KeyRing([keys["RS256"]]).verify(token, NOW)

    assert "unknown_key" == caught.value.reason


def test_a_token_from_a_removed_key_is_rejected(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    Once a key leaves the ring, tokens it signed no longer verify.
    """
    token = ring.sign(keys["ES256"].id, CLAIMS)
    ring.remove(keys["ES256"].id)

    with pytest.raises(InvalidToken):
        ring.verify(token, NOW)

    assert None is ring.get(keys["ES256"].id)
    assert None is ring.by_kid(keys["ES256"].kid)


def test_an_expired_token_is_rejected(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    A token is expired from the second of its exp claim on (RFC 7519 §4.1.4).
    """
    token = ring.sign(keys["HS256"].id, CLAIMS)

    with pytest.raises(InvalidToken) as caught:
        ring.verify(token, NOW + 3600)

    assert "expired" == caught.value.reason


def test_leeway_accepts_a_token_just_past_its_expiry(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    The leeway extends exp by that many seconds, for clock skew.
    """
    token = ring.sign(keys["HS256"].id, CLAIMS)

    assert CLAIMS == ring.verify(token, NOW + 3605, leeway_s=10)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "no-expiry"},
        {**CLAIMS, "iat": NOW + 600},
        {**CLAIMS, "nbf": NOW + 600},
        {**CLAIMS, "exp": "tomorrow"},
    ],
    ids=["missing-exp", "iat-in-future", "nbf-in-future", "exp-not-a-number"],
)
def test_tokens_with_bad_time_claims_are_rejected(
    ring: KeyRing, keys: dict[str, SigningKey], claims: dict[str, object]
) -> None:
    """
    exp is required, and exp, iat and nbf must make sense at the given time.
    """
    token = ring.sign(keys["HS256"].id, claims)

    with pytest.raises(InvalidToken):
        ring.verify(token, NOW)


@pytest.mark.parametrize("alg", ["none", "RS256", "HS512"])
def test_changing_the_alg_of_an_hmac_token_is_rejected(
    ring: KeyRing, keys: dict[str, SigningKey], alg: str
) -> None:
    """
    Only the key's own algorithm is allowed, so a rewritten alg never verifies.
    """
    _, payload, signature = segments(ring.sign(keys["HS256"].id, CLAIMS))
    header = b64url_json({"alg": alg, "typ": "JWT", "kid": keys["HS256"].kid})

    with pytest.raises(InvalidToken) as signed:
        ring.verify(f"{header}.{payload}.{signature}", NOW)
    with pytest.raises(InvalidToken) as unsigned:
        ring.verify(f"{header}.{payload}.", NOW)

    assert ("bad_token", "bad_token") == (signed.value.reason, unsigned.value.reason)


@pytest.mark.parametrize(
    "extra",
    [{"crit": 5}, {"crit": [1]}, {"crit": [["b64"]]}, {"b64": "no"}, {"x-custom": 1}],
)
def test_odd_header_parameters_are_rejected_as_invalid_tokens(
    ring: KeyRing, keys: dict[str, SigningKey], extra: dict[str, object]
) -> None:
    """
    Malformed or unregistered header parameters give InvalidToken, never a crash.
    """
    _, payload, signature = segments(ring.sign(keys["HS256"].id, CLAIMS))
    header = b64url_json({"alg": "HS256", "kid": keys["HS256"].kid, **extra})

    with pytest.raises(InvalidToken):
        ring.verify(f"{header}.{payload}.{signature}", NOW)


def test_an_hmac_token_keyed_with_the_rsa_public_key_is_rejected(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    The classic confusion: HS256 signed with the published RSA PEM as the secret.
    """
    rsa = keys["RS256"]
    assert rsa.public_pem is not None
    header = b64url_json({"alg": "HS256", "typ": "JWT", "kid": rsa.kid})
    signing_input = f"{header}.{b64url_json(CLAIMS)}"
    mac = hmac.digest(rsa.public_pem.encode(), signing_input.encode(), hashlib.sha256)

    with pytest.raises(InvalidToken):
        ring.verify(f"{signing_input}.{b64url(mac)}", NOW)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "é.é.é", "x" * 5000],
)
def test_malformed_tokens_are_rejected_without_echoing_them(
    ring: KeyRing, token: str
) -> None:
    """
    Junk is InvalidToken with no chained cause, and the message never holds it.
    """
    with pytest.raises(InvalidToken) as caught:
        ring.verify(token, NOW)

    assert None is caught.value.__cause__
    assert token == "" or token not in str(caught.value)


def test_the_hmac_secret_is_used_as_its_utf8_text(keys: dict[str, SigningKey]) -> None:
    """
    Like FusionAuth, the HMAC key is the secret string's bytes, not its decoding.
    """
    key = keys["HS256"]
    assert key.secret is not None
    header, payload, signature = segments(KeyRing([key]).sign(key.id, CLAIMS))

    mac = hmac.digest(key.secret.encode(), f"{header}.{payload}".encode(), "sha256")
    assert b64url(mac) == signature


def test_the_jwks_lists_rsa_and_ec_keys_and_never_hmac(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    The JWKS has the public RSA and EC keys with use sig, and no HMAC or private part.
    """
    published = ring.jwks()["keys"]
    assert isinstance(published, list)
    by_kid = {jwk["kid"]: jwk for jwk in published}

    assert {keys["RS256"].kid, keys["ES256"].kid} == set(by_kid)
    rsa, ec = by_kid[keys["RS256"].kid], by_kid[keys["ES256"].kid]
    assert {"kty", "kid", "alg", "use", "n", "e"} == set(rsa)
    assert ("RSA", "RS256", "sig") == (rsa["kty"], rsa["alg"], rsa["use"])
    assert {"kty", "kid", "alg", "use", "crv", "x", "y"} == set(ec)
    assert ("EC", "ES256", "P-256") == (ec["kty"], ec["alg"], ec["crv"])


def test_an_rs256_token_verifies_with_only_the_published_jwks(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    A third party holding just the JWKS JSON can check our RS256 tokens.
    """
    token = ring.sign(keys["RS256"].id, CLAIMS)
    document = json.loads(json.dumps(ring.jwks()))

    third_party = jwt.decode(token, KeySet.import_key_set(document), ["RS256"])

    assert CLAIMS == third_party.claims


def test_public_pems_are_by_kid_and_asymmetric_only(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    The public-key map names RSA and EC keys by kid, with public PEMs only.
    """
    pems = ring.public_pems()

    assert {keys["RS256"].kid, keys["ES256"].kid} == set(pems)
    assert keys["RS256"].public_pem == pems[keys["RS256"].kid]
    assert all("PRIVATE" not in pem for pem in pems.values())


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_key_response_never_contains_secret_or_private_material(
    keys: dict[str, SigningKey], alg: str
) -> None:
    """
    The Key API JSON leaves out the secret and private key for every key type.
    """
    key = keys[alg]
    body = key_response(key)
    text = json.dumps(body)

    assert {"secret", "privateKey"}.isdisjoint(body)
    assert "PRIVATE" not in text
    assert key.secret is None or key.secret not in text
    assert (key.id, alg, key.kid) == (body["id"], body["algorithm"], body["kid"])


def test_key_response_describes_an_rsa_key_like_fusionauth(
    keys: dict[str, SigningKey],
) -> None:
    """
    An RSA key shows its public PEM, its length in bits and type RSA.
    """
    key = keys["RS256"]

    assert {
        "id": key.id,
        "algorithm": "RS256",
        "name": "RS256",
        "kid": key.kid,
        "type": "RSA",
        "insertInstant": NOW,
        "publicKey": key.public_pem,
        "hasPrivateKey": True,
        "length": 2048,
    } == key_response(key)


def test_the_repr_of_a_key_hides_its_secret_and_private_key(
    keys: dict[str, SigningKey],
) -> None:
    """
    Logging a SigningKey by accident cannot leak the secret or private PEM.
    """
    hmac_key, rsa_key = keys["HS256"], keys["RS256"]
    assert hmac_key.secret is not None
    assert rsa_key.private_pem is not None

    assert hmac_key.secret not in repr(hmac_key)
    assert "PRIVATE" not in repr(rsa_key)


@pytest.mark.parametrize(
    ("alg", "expected"),
    [("HS256", "HMAC"), ("HS512", "HMAC"), ("RS384", "RSA"), ("ES512", "EC")],
)
def test_generated_keys_have_the_fusionauth_type(alg: str, expected: str) -> None:
    """
    The key type follows from the algorithm, as in FusionAuth's Key domain.
    """
    key = generate_key(alg, "id", "name", NOW)

    assert expected == key.type


def test_hmac_secrets_are_base64_of_the_algorithm_size() -> None:
    """
    HS256, HS384 and HS512 get 32, 48 and 64 random bytes, base64 encoded.
    """
    sizes = {}
    for alg in ("HS256", "HS384", "HS512"):
        secret = generate_key(alg, "id", "name", NOW).secret
        assert secret is not None
        sizes[alg] = len(base64.b64decode(secret, validate=True))

    assert {"HS256": 32, "HS384": 48, "HS512": 64} == sizes


def test_an_ec_key_of_each_size_signs_and_verifies() -> None:
    """
    ES384 and ES512 keys use P-384 and P-521 and round-trip.
    """
    ring = KeyRing()
    for alg in ("ES384", "ES512"):
        ring.add(generate_key(alg, alg, alg, NOW))

    assert CLAIMS == ring.verify(ring.sign("ES384", CLAIMS), NOW)
    assert CLAIMS == ring.verify(ring.sign("ES512", CLAIMS), NOW)


def test_an_unknown_algorithm_is_a_value_error() -> None:
    """
    Generating a key for an algorithm FusionAuth does not offer fails clearly.
    """
    with pytest.raises(ValueError, match="Unsupported signing algorithm 'PS256'"):
        generate_key("PS256", "id", "name", NOW)


def test_an_unsupported_rsa_length_is_a_value_error() -> None:
    """
    RSA keys are 2048, 3072 or 4096 bits.
    """
    with pytest.raises(ValueError, match="'length'"):
        generate_key("RS256", "id", "name", NOW, length=1024)


def test_signing_with_an_unknown_key_id_raises_key_error(ring: KeyRing) -> None:
    """
    Asking for a key id the ring does not hold is a KeyError naming the id.
    """
    with pytest.raises(KeyError) as caught:
        ring.sign("missing-id", CLAIMS)

    assert "No signing key with id 'missing-id'." == str(caught.value)


def test_a_public_only_key_verifies_but_cannot_sign(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    An imported public key checks tokens and refuses to sign.
    """
    full = keys["RS256"]
    public_only = SigningKey(
        full.id, full.kid, full.algorithm, full.name, NOW, public_pem=full.public_pem
    )
    verifier = KeyRing([public_only])

    assert CLAIMS == verifier.verify(ring.sign(full.id, CLAIMS), NOW)
    with pytest.raises(ValueError, match="no private key"):
        verifier.sign(full.id, CLAIMS)


def test_a_kid_already_used_by_another_key_is_refused(
    ring: KeyRing, keys: dict[str, SigningKey]
) -> None:
    """
    Two keys cannot share a kid, or verification could pick the wrong one.
    """
    clash = generate_key("HS256", "other-id", "clash", NOW)
    clash = SigningKey(
        clash.id, keys["HS256"].kid, "HS256", "clash", NOW, secret=clash.secret
    )

    with pytest.raises(ValueError, match="already in use"):
        ring.add(clash)


def test_a_public_key_that_does_not_match_the_private_key_is_refused(
    keys: dict[str, SigningKey],
) -> None:
    """
    A key whose stored public PEM belongs to another pair cannot be added.
    """
    other = generate_key("RS256", "other-id", "other", NOW)
    mixed = SigningKey(
        "mixed-id",
        "mixed-kid",
        "RS256",
        "mixed",
        NOW,
        private_pem=keys["RS256"].private_pem,
        public_pem=other.public_pem,
    )

    with pytest.raises(ValueError, match="does not match"):
        KeyRing([mixed])


@pytest.mark.parametrize("alg", ["RS256", "ES384"])
def test_a_pem_of_the_wrong_kind_for_the_algorithm_is_refused(
    keys: dict[str, SigningKey], alg: str
) -> None:
    """
    An EC PEM under an RSA algorithm, or a P-256 key under ES384, is a ValueError.
    """
    ec = keys["ES256"]
    wrong = SigningKey(
        "wrong-id", "wrong-kid", alg, "wrong", NOW, private_pem=ec.private_pem
    )

    with pytest.raises(ValueError, match="Key 'wrong-id'"):
        KeyRing([wrong])
