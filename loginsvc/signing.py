"""
JWT signing keys: generation, the key ring that signs and verifies, and the JWKS.

A pure adapter over joserfc: no Redis, no aiohttp and no clock; time comes in as
arguments. Every joserfc failure on an incoming token becomes ``InvalidToken``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, Key, KeyParameters, OctKey, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.registry import HeaderParameter
from joserfc.util import json_b64decode

# https://github.com/FusionAuth/fusionauth-java-client Key.KeyAlgorithm and KeyType
_KEY_TYPES = {
    **dict.fromkeys(("HS256", "HS384", "HS512"), "HMAC"),
    **dict.fromkeys(("RS256", "RS384", "RS512"), "RSA"),
    **dict.fromkeys(("ES256", "ES384", "ES512"), "EC"),
}
_HMAC_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_RSA_LENGTHS = (2048, 3072, 4096)

# FusionAuth adds "gty" to the header of OAuth-issued tokens (reference §5.1);
# every other unregistered header parameter is still rejected.
_HEADER_REGISTRY = {"gty": HeaderParameter("Grant types", "list[str]")}
_MAX_HEADER_CHARS = 1024


class InvalidToken(Exception):
    """
    The token is malformed, badly signed, from an unknown key or expired.
    """

    def __init__(
        self, message: str = "The token is invalid.", *, reason: str = "invalid"
    ) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownKey(KeyError):
    """
    No key with the given id is in the key ring.
    """

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class SigningKey:
    """
    One FusionAuth signing key: an HMAC secret or an RSA or EC key pair.
    """

    id: str
    kid: str
    algorithm: str
    name: str
    insert_instant: int
    secret: str | None = field(default=None, repr=False)
    private_pem: str | None = field(default=None, repr=False)
    public_pem: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in _KEY_TYPES:
            raise ValueError(f"Unsupported signing algorithm '{self.algorithm}'.")

    @property
    def type(self) -> str:
        """
        The FusionAuth key type: "HMAC", "RSA" or "EC".
        """
        return _KEY_TYPES[self.algorithm]


def generate_key(
    algorithm: str, key_id: str, name: str, now_ms: int, length: int | None = None
) -> SigningKey:
    """
    Generate a new key for the algorithm; ``length`` only applies to RSA.
    """
    if algorithm in _HMAC_SECRET_BYTES:
        raw = secrets.token_bytes(_HMAC_SECRET_BYTES[algorithm])
        secret = base64.b64encode(raw).decode("ascii")
        # FusionAuth's own HMAC kids are nine hex digits, e.g. "cdaf79212".
        kid = secrets.token_hex(5)[:9]
        return SigningKey(key_id, kid, algorithm, name, now_ms, secret=secret)

    pair: RSAKey | ECKey
    if algorithm in _EC_CURVES:
        pair = ECKey.generate_key(_EC_CURVES[algorithm])
    elif algorithm in _KEY_TYPES:
        bits = 2048 if length is None else length
        if bits not in _RSA_LENGTHS:
            raise ValueError("RSA key 'length' must be 2048, 3072 or 4096 bits.")
        pair = RSAKey.generate_key(bits)
    else:
        raise ValueError(f"Unsupported signing algorithm '{algorithm}'.")

    return SigningKey(
        key_id,
        pair.thumbprint(),  # RFC 7638, as FusionAuth's RSA kids look
        algorithm,
        name,
        now_ms,
        private_pem=pair.as_pem(private=True).decode("ascii"),
        public_pem=pair.as_pem(private=False).decode("ascii"),
    )


def key_response(key: SigningKey) -> dict[str, object]:
    """
    The FusionAuth Key API JSON for a key, never with its secret or private key.
    """
    body: dict[str, object] = {
        "id": key.id,
        "algorithm": key.algorithm,
        "name": key.name,
        "kid": key.kid,
        "type": key.type,
        "insertInstant": key.insert_instant,
    }
    if key.type == "HMAC":
        return body

    pair = _import_pair(key)
    body["publicKey"] = pair.as_pem(private=False).decode("ascii")
    body["hasPrivateKey"] = key.private_pem is not None
    if isinstance(pair, RSAKey):
        body["length"] = pair.public_key.key_size
    return body


@dataclass(frozen=True, slots=True)
class _Loaded:
    """
    A key imported once into joserfc, with what signing and verifying reuse.
    """

    key: SigningKey
    jwk: Key
    registry: JWSRegistry
    header: dict[str, str]
    public_jwk: dict[str, object] | None
    public_pem: str | None


class KeyRing:
    """
    The signing keys in use, imported once, by FusionAuth key id and by kid.
    """

    def __init__(self, keys: Iterable[SigningKey] = ()) -> None:
        self._by_id: dict[str, _Loaded] = {}
        self._id_by_kid: dict[str, str] = {}
        for key in keys:
            self.add(key)

    def add(self, key: SigningKey) -> None:
        """
        Import the key, replacing any key with the same id.
        """
        owner = self._id_by_kid.get(key.kid)
        if owner is not None and owner != key.id:
            raise ValueError(f"The kid of key '{key.id}' is already in use.")

        loaded = _load(key)
        self.remove(key.id)
        self._by_id[key.id] = loaded
        self._id_by_kid[key.kid] = key.id

    def remove(self, key_id: str) -> None:
        """
        Forget the key; removing an absent key does nothing.
        """
        loaded = self._by_id.pop(key_id, None)
        if loaded is not None:
            del self._id_by_kid[loaded.key.kid]

    def get(self, key_id: str) -> SigningKey | None:
        """
        The key with this FusionAuth key id, if held.
        """
        loaded = self._by_id.get(key_id)
        return None if loaded is None else loaded.key

    def by_kid(self, kid: str) -> SigningKey | None:
        """
        The key with this JWT kid, if held.
        """
        key_id = self._id_by_kid.get(kid)
        return None if key_id is None else self._by_id[key_id].key

    def sign(self, key_id: str, claims: Mapping[str, object]) -> str:
        """
        Sign the claims as a compact JWT with header {"alg", "typ", "kid"}.
        """
        loaded = self._by_id.get(key_id)
        if loaded is None:
            raise UnknownKey(f"No signing key with id '{key_id}'.")
        if loaded.key.type != "HMAC" and loaded.key.private_pem is None:
            raise ValueError(f"Key '{key_id}' has no private key, so it cannot sign.")

        return jwt.encode(
            loaded.header,
            dict(claims),
            loaded.jwk,
            registry=loaded.registry,
            default_type=None,
        )

    def verify(self, token: str, now_s: int, leeway_s: int = 0) -> dict[str, object]:
        """
        Return the claims of a token signed by a known key and not expired.
        """
        key_id = self._id_by_kid.get(_peek_kid(token))
        if key_id is None:
            raise InvalidToken("The token's key is unknown.", reason="unknown_key")
        loaded = self._by_id[key_id]

        try:
            claims: dict[str, object] = jwt.decode(
                token, loaded.jwk, registry=loaded.registry
            ).claims
            jwt.JWTClaimsRegistry(
                now=now_s, leeway=leeway_s, exp={"essential": True}
            ).validate(claims)
        except ExpiredTokenError:
            raise InvalidToken("The token has expired.", reason="expired") from None
        except (JoseError, ValueError, TypeError):
            # joserfc raises TypeError on some malformed headers, e.g. "crit": 5.
            raise InvalidToken(
                "The token is malformed or badly signed.", reason="bad_token"
            ) from None
        return claims

    def jwks(self) -> dict[str, object]:
        """
        The JWKS document: public asymmetric keys only, HMAC secrets never.
        """
        keys = [
            loaded.public_jwk
            for loaded in self._by_id.values()
            if loaded.public_jwk is not None
        ]
        return {"keys": keys}

    def public_pems(self) -> dict[str, str]:
        """
        Each asymmetric key's public PEM by kid.
        """
        return {
            loaded.key.kid: loaded.public_pem
            for loaded in self._by_id.values()
            if loaded.public_pem is not None
        }


def _import_pair(
    key: SigningKey, parameters: KeyParameters | None = None
) -> RSAKey | ECKey:
    pem = key.private_pem or key.public_pem
    if pem is None:
        raise ValueError(f"Key '{key.id}' has neither a private nor a public PEM.")
    try:
        if key.type == "RSA":
            return RSAKey.import_key(pem, parameters)
        return ECKey.import_key(pem, parameters)
    except (JoseError, ValueError) as error:
        raise ValueError(f"Key '{key.id}' is not a valid {key.type} PEM.") from error


def _load(key: SigningKey) -> _Loaded:
    parameters: KeyParameters = {"kid": key.kid, "alg": key.algorithm, "use": "sig"}
    jwk: Key
    if key.type == "HMAC":
        if not key.secret:
            raise ValueError(f"HMAC key '{key.id}' has no secret.")
        # fusionauth-jwt's HMACSigner signs with a String secret's UTF-8 bytes;
        # we take FusionAuth to pass the Key's base64 text as is, undecoded.
        jwk = OctKey.import_key(key.secret.encode("utf-8"), parameters)
    else:
        jwk = _import_pair(key, parameters)
        _check_pair_matches(key, jwk)

    registry = JWSRegistry(_HEADER_REGISTRY, algorithms=[key.algorithm])
    try:
        registry.get_alg(key.algorithm).check_key(jwk)
    except JoseError as error:
        raise ValueError(f"Key '{key.id}' does not fit '{key.algorithm}'.") from error

    public_jwk: dict[str, object] | None = None
    public_pem: str | None = None
    if isinstance(jwk, RSAKey | ECKey):
        public_jwk = {"kty": jwk.key_type, **parameters}
        public_jwk.update(jwk.as_dict(private=False))
        public_pem = key.public_pem or jwk.as_pem(private=False).decode("ascii")

    header = {"alg": key.algorithm, "typ": "JWT", "kid": key.kid}
    return _Loaded(key, jwk, registry, header, public_jwk, public_pem)


def _check_pair_matches(key: SigningKey, pair: RSAKey | ECKey) -> None:
    if key.private_pem is None or key.public_pem is None:
        return
    public = _import_pair(replace(key, private_pem=None))
    if public.thumbprint() != pair.thumbprint():
        raise ValueError(
            f"The public key of key '{key.id}' does not match its private key."
        )


def _peek_kid(token: str) -> str:
    segment = token.partition(".")[0]
    if len(segment) > _MAX_HEADER_CHARS:
        raise InvalidToken("The token is malformed.", reason="malformed")

    try:
        header = json_b64decode(segment.encode("ascii"))
    except (ValueError, TypeError):
        raise InvalidToken("The token is malformed.", reason="malformed") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(kid, str):
        raise InvalidToken("The token names no key.", reason="unknown_key")
    return kid
