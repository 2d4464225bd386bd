"""Header policy and cross-JWT confusion (catalogue 2.3 and 2.6, RFC 8725 sections 2.8 and
3.10-3.12, RFC 9068 section 4): the right ``typ``, none of the headers that fetch keys or
change how the payload is read, and ``kid`` never used to find a key.

Decided where the profile was silent: ``typ`` compares case-insensitively with an optional
``application/`` prefix (RFC 7515 4.1.9); ``kid`` is informational, so a hostile or wrong
``kid`` on an otherwise valid token is still valid; JWE members (``enc``, ``p2c``, ``epk``)
in a three-segment JWS are unknown headers, ignored like any other, and nothing is ever
decrypted.

A whole foreign token (a signed request, a JWT-SVID) lacks claims an access token must carry
(``iss``, ``client_id``, ``jti``...), and claim shapes are step 1 of the profile's order, so
it is ``malformed`` before its ``typ`` is read; ``wrong_type`` is what a token with every
access-token claim but another ``typ`` gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from spiffebind.testing.attacks.kit import VALID, Case, Materials, case, ec_jwk
from spiffebind.testing.forge import DROP, compact
from spiffebind.token import REQUEST_TYP, SigningIdentity, sign_request

WRONG_TYPE = "wrong_type"
FORBIDDEN = "forbidden_header"


def _header(ref: str, name: str, expected: str, header: Mapping[str, Any]) -> Case:
    return case(ref, name, expected, lambda m: m.token(header=header))


def _typ(ref: str, name: str, typ: object, expected: str = WRONG_TYPE) -> Case:
    return _header(ref, f"typ-{name}", expected, {"typ": typ})


def _attacker_jwk(m: Materials) -> str:
    """An embedded public key and a signature by its private half; x5c left as it was."""
    key = ec.generate_private_key(ec.SECP256R1())
    return m.token(header={"jwk": ec_jwk(key.public_key())}, key=key)


def _request_proof(m: Materials) -> str:
    """A real signed request of the agent, sent where an access token belongs."""
    identity = SigningIdentity(tuple(m.agent.chain), m.agent.key)
    params = {"op": "issue", "audience": m.audience}
    return sign_request(identity, daemon_id=m.signer_id, params=params, now=m.now)


def _upstream_token(m: Materials) -> str:
    """An authorization server's at+jwt: RS256, no x5c, a key the verifier has never seen."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return compact({"alg": "RS256", "typ": "at+jwt", "kid": "hydra-1"}, dict(m.claims), key)


FORBIDDEN_CASES: dict[str, dict[str, Any]] = {
    "J43": {"jku": "https://attacker.test/jwks.json"},
    "J44": {"x5u": "https://attacker.test/c.pem"},
    "J45": {"crit": ["exp"]},
    "J46": {"b64": False, "crit": ["b64"]},
    "J47": {"zip": "DEF"},
    "J48": {"cty": "JWT"},
}

HEADERS: tuple[Case, ...] = (
    _typ("J38", "missing", DROP),
    _typ("J38", "null", None),
    _typ("J38", "number", 1),
    _typ("J39", "jwt-svid", "JWT"),
    _typ("J39", "jose", "JOSE"),
    _typ("J39", "application-jwt", "application/jwt"),
    _typ("J40", "request-proof", REQUEST_TYP),
    case("J40", "signed-request-as-access-token", "malformed", _request_proof),
    _typ("J41", "media-type-form", "application/at+jwt", VALID),
    _typ("J41", "upper-case", "AT+JWT", VALID),
    _typ("J41", "trailing-space", "at+jwt "),
    _typ("J41", "suffixed", "at+jwt+x"),
    _typ("J41", "fullwidth-lookalike", "\uff41t+jwt"),
    case("J42", "embedded-jwk-signed-by-its-key", FORBIDDEN, _attacker_jwk),
    *(_header(ref, f"header-{'-'.join(h)}", FORBIDDEN, h) for ref, h in FORBIDDEN_CASES.items()),
    case(
        "J45",
        "crit-unknown-member",
        FORBIDDEN,
        lambda m: m.token(header={"crit": ["foo"], "foo": 1}),
    ),
    case("J45", "crit-empty", FORBIDDEN, lambda m: m.token(header={"crit": []})),
    case("J43", "jku-null", FORBIDDEN, lambda m: m.token(header={"jku": None})),
    *(
        _header("J49", f"kid-{name}", VALID, {"kid": kid})
        for name, kid in (
            ("path-traversal", "../../../../dev/null"),
            ("sql-injection", "x' UNION SELECT '1';--"),
            ("command-injection", "|sleep 10"),
            ("names-another-certificate", "MkqGgCsmBk0WfWvS-7vYMPs5zYxbe3pXSIP_hKN7z1g"),
        )
    ),
    case("J49", "kid-missing", VALID, lambda m: m.token(header={"kid": DROP})),
    case("J50", "kid-not-a-string", "malformed", lambda m: m.token(header={"kid": 123})),
    case(
        "J51",
        "jwe-members-ignored-in-jws",
        VALID,
        lambda m: m.token(header={"enc": "A256GCM", "p2c": 2147483647, "epk": {"kty": "EC"}}),
    ),
    case("J52", "unknown-header-ignored", VALID, lambda m: m.token(header={"foo": 1})),
    case("J90", "jwt-svid-presented", "malformed", lambda m: m.jwt_svid),
    case("J91", "upstream-as-token-without-x5c", "untrusted_signer", _upstream_token),
)
