"""
``/api/jwt/validate``, the Key API, public keys and the JWKS document.
"""

from __future__ import annotations

import uuid

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.api.login_state import (
    call,
    fusionauth,
    make_application,
    make_user,
    password_login,
)


async def test_validate_returns_the_claims_of_a_good_token(client, rt):
    """
    200 with ``{"jwt": claims}``, instants in seconds.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "valid@example.com", app["id"])
    login = await password_login(client, "valid@example.com", app["id"])

    response = await call(fusionauth(client).validate_jwt, login["token"])

    claims = response.success_response["jwt"]
    assert 200 == response.status
    assert user_id == claims["sub"]
    assert claims["exp"] < 10**11


async def test_validate_refuses_a_tampered_token(client, rt):
    """
    A changed payload breaks the signature: 401 with an empty body.
    """
    app = await make_application(rt)
    await make_user(rt, "tamper@example.com", app["id"])
    login = await password_login(client, "tamper@example.com", app["id"])
    header, payload, signature = login["token"].split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"

    response = await call(fusionauth(client).validate_jwt, tampered)

    assert 401 == response.status
    assert b"" == response.response.content


async def test_validate_reads_the_access_token_cookie(client, rt):
    """
    Without a header the ``access_token`` cookie is validated.
    """
    app = await make_application(rt)
    await make_user(rt, "cookie-jwt@example.com", app["id"])
    login = await password_login(client, "cookie-jwt@example.com", app["id"])

    response = await client.get(
        "/api/jwt/validate", cookies={"access_token": login["token"]}
    )

    assert 200 == response.status


async def test_an_rs256_application_signs_tokens_that_verify_with_the_jwks(client, rt):
    """
    A generated RS256 key signs the app's tokens; the JWKS alone verifies them.
    """
    fa = fusionauth(client)
    generated = await call(
        fa.generate_key, {"key": {"algorithm": "RS256", "name": "Apps", "length": 2048}}
    )
    key = generated.success_response["key"]
    app = await make_application(
        rt, jwtConfiguration={"enabled": True, "accessTokenKeyId": key["id"]}
    )
    await make_user(rt, "rsa@example.com", app["id"])
    login = await password_login(client, "rsa@example.com", app["id"])

    jwks = (await call(fa.retrieve_json_web_key_set)).success_response
    token = jwt.decode(login["token"], KeySet.import_key_set(jwks), ["RS256"])

    assert "RS256" == key["algorithm"]
    assert {"alg": "RS256", "typ": "JWT", "kid": key["kid"]} == token.header
    assert app["id"] == token.claims["aud"]


async def test_public_keys_are_published_by_kid_and_by_application(client, rt):
    """
    ``/api/jwt/public-key`` answers all keys, one by kid, or an app's key.
    """
    fa = fusionauth(client)
    generated = await call(
        fa.generate_key, {"key": {"algorithm": "ES256", "name": "E"}}
    )
    key = generated.success_response["key"]
    app = await make_application(
        rt, jwtConfiguration={"enabled": True, "accessTokenKeyId": key["id"]}
    )

    every = await call(fa.retrieve_jwt_public_keys)
    by_kid = await call(fa.retrieve_jwt_public_key, key["kid"])
    by_app = await call(fa.retrieve_jwt_public_key_by_application_id, app["id"])

    assert {key["kid"]: key["publicKey"]} == every.success_response["publicKeys"]
    assert key["publicKey"] == by_kid.success_response["publicKey"]
    assert key["publicKey"] == by_app.success_response["publicKey"]


async def test_hmac_keys_are_never_published(client, rt):
    """
    An app signing with the default HS256 key has no public key: 404.
    """
    app = await make_application(rt)
    fa = fusionauth(client)

    by_app = await call(fa.retrieve_jwt_public_key_by_application_id, app["id"])
    jwks = await call(fa.retrieve_json_web_key_set)

    assert 404 == by_app.status
    assert {"keys": []} == jwks.success_response


async def test_keys_are_generated_retrieved_and_deleted_by_id(client):
    """
    ``POST /api/key/generate/{id}``, ``GET /api/key/{id}``, ``DELETE``, then 404.
    """
    fa = fusionauth(client)
    key_id = str(uuid.uuid4())
    request = {"key": {"algorithm": "HS512", "name": "Secret"}}

    generated = await call(fa.generate_key, request, key_id)
    found = await call(fa.retrieve_key, key_id)
    listed = await call(fa.retrieve_keys)
    deleted = await call(fa.delete_key, key_id)
    gone = await call(fa.retrieve_key, key_id)

    assert key_id == generated.success_response["key"]["id"]
    assert "secret" not in found.success_response["key"]
    assert key_id in [k["id"] for k in listed.success_response["keys"]]
    assert 200 == deleted.status
    assert 404 == gone.status


async def test_generating_a_key_needs_a_known_algorithm(client):
    """
    An unknown algorithm is ``[invalid]key.algorithm``.
    """
    request = {"key": {"algorithm": "XX999", "name": "Bad"}}

    response = await call(fusionauth(client).generate_key, request)

    assert 400 == response.status
    assert ["key.algorithm"] == list(response.error_response["fieldErrors"])
