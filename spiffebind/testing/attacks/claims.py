"""Claims: shapes, issuer, time, audience, scope (catalogue 2.5, RFC 7519 section 4.1,
RFC 8725 sections 3.8-3.9, token-profile section 3 steps 1 and 8-16).

Decided where the profile was silent: a missing ``exp`` or ``iat`` is ``malformed`` (the
profile lists both as required claims), a ``jti`` shorter than 22 base64url characters
(128 bits) is ``malformed``, and a ``client_id`` that is no SPIFFE ID can match no presenter
(``presenter_mismatch``). Verification re-runs policy, so a perfectly signed token for an
audience, scope or subject the policy does not grant is ``policy_denied``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spiffebind.testing.attacks.kit import (
    VALID,
    Attempt,
    Build,
    Case,
    case,
    raw_object,
    without,
)
from spiffebind.testing.forge import DROP

MALFORMED = "malformed"


def _claims(**changes: Any) -> Build:
    return lambda m: m.token(claims=changes)


def _timed(iat: int, exp: int, nbf: int | None = None) -> Build:
    """Times relative to the world's now; ``nbf`` defaults to ``iat``."""
    return lambda m: m.token(
        claims={
            "iat": m.now + iat,
            "nbf": m.now + (iat if nbf is None else nbf),
            "exp": m.now + exp,
        }
    )


def _raw(name: str, raw: bytes) -> Build:
    return lambda m: m.token(claims=raw_object(without(m.claims, name), (name, raw)))


def _act(depth: int) -> dict[str, Any]:
    act: dict[str, Any] = {"sub": "spiffe://example.org/agents/a0"}
    for i in range(1, depth):
        act = {"sub": f"spiffe://example.org/agents/a{i}", "act": act}
    return act


def _scopes(*required: str) -> Build:
    return lambda m: Attempt(m.token(), scopes=required)


def _iss(change: Callable[[str], str]) -> Build:
    return lambda m: m.token(claims={"iss": change(m.signer_id)})


def _aud(change: Callable[[str], Any]) -> Build:
    return lambda m: m.token(claims={"aud": change(m.audience)})


SHAPES: tuple[Case, ...] = (
    *(
        case(ref, f"missing-{name}", MALFORMED, _claims(**{name: DROP}))
        for ref, name in (
            ("J73", "iss"),
            ("P3.1", "sub"),
            ("J84", "client_id"),
            ("J85", "aud"),
            ("J77", "exp"),
            ("J78", "iat"),
            ("J83", "jti"),
        )
    ),
    case(
        "J79", "exp-numeric-string", MALFORMED, lambda m: m.token(claims={"exp": str(m.now + 300)})
    ),
    *(
        case("J80", f"exp-{name}", MALFORMED, _claims(exp=value))
        for name, value in (("true", True), ("null", None), ("array", [1]), ("object", {}))
    ),
    case("J80", "exp-fractional", MALFORMED, lambda m: m.token(claims={"exp": m.now + 300.5})),
    case("J81", "exp-overflows-to-infinity", MALFORMED, _raw("exp", b"1e400")),
    case("J80", "iat-string", MALFORMED, lambda m: m.token(claims={"iat": str(m.now)})),
    case("J80", "nbf-null", MALFORMED, _claims(nbf=None)),
    case("J83", "jti-64-bit", MALFORMED, _claims(jti="AAAAAAAAAAA")),
    case("J83", "jti-number", MALFORMED, _claims(jti=12345678901234567890123)),
    case("J83", "jti-non-base64url", MALFORMED, _claims(jti="A" * 21 + "!")),
    case("J73", "iss-array", MALFORMED, lambda m: m.token(claims={"iss": [m.signer_id]})),
    case("J88", "aud-number-array", MALFORMED, _claims(aud=[1])),
    case("J88", "aud-object", MALFORMED, lambda m: m.token(claims={"aud": {m.audience: 1}})),
    case("P3.1", "scope-array", MALFORMED, _claims(scope=["search:read"])),
    case("P3.1", "txn-number", MALFORMED, _claims(txn=7)),
    case("J93", "act-sub-not-a-spiffe-id", MALFORMED, _claims(act={"sub": "planner"})),
    case("J93", "act-nested-17-deep", MALFORMED, _claims(act=_act(17))),
    case(
        "P3.1",
        "authorization-details-without-type",
        MALFORMED,
        _claims(authorization_details=[{"x": 1}]),
    ),
    case(
        "F-JSON",
        "number-overflowing-to-infinity-in-untyped-claim",
        MALFORMED,
        _raw("authorization_details", b'[{"type":"search","limit":1e400}]'),
    ),
    case("P3.1", "may-act-not-an-object", MALFORMED, _claims(may_act=["x"])),
)

MEANING: tuple[Case, ...] = (
    case(
        "J72",
        "iss-another-node",
        "issuer_mismatch",
        _iss(lambda i: i.rsplit("/", 1)[0] + "/node-2"),
    ),
    case("J73", "iss-trailing-slash", "issuer_mismatch", _iss(lambda i: i + "/")),
    case(
        "J73",
        "iss-upper-case-trust-domain",
        "issuer_mismatch",
        _iss(lambda i: i.replace(i.split("/")[2], i.split("/")[2].upper(), 1)),
    ),
    case("J73", "iss-prefix-of-signer-id", "issuer_mismatch", _iss(lambda i: i.rsplit("/", 1)[0])),
    case(
        "J73", "iss-is-the-agent", "issuer_mismatch", lambda m: m.token(claims={"iss": m.agent_id})
    ),
    case("J74", "expired-beyond-skew", "expired", _timed(-331, -31)),
    case("J74", "expired-within-skew", VALID, _timed(-320, -20)),
    case("J82", "exp-zero", "expired", lambda m: m.token(claims={"iat": 0, "nbf": 0, "exp": 0})),
    case(
        "J82",
        "exp-negative",
        "expired",
        lambda m: m.token(claims={"iat": -100, "nbf": -100, "exp": -1}),
    ),
    case("J75", "nbf-in-future", "not_yet_valid", _timed(0, 300, nbf=60)),
    case("J75", "iat-in-future", "not_yet_valid", _timed(60, 300, nbf=0)),
    case("J75", "nbf-within-skew", VALID, _timed(0, 300, nbf=20)),
    case("J76", "lifetime-ten-years", "lifetime_too_long", _timed(0, 10 * 365 * 86400)),
    case("J76", "exp-ten-to-the-thirty", "lifetime_too_long", _claims(exp=10**30)),
    case(
        "J76",
        "lifetime-one-second-over-max",
        "lifetime_too_long",
        lambda m: _timed(0, m.max_lifetime + 1)(m),
    ),
    case("J76", "lifetime-exactly-max", VALID, lambda m: _timed(0, m.max_lifetime)(m)),
    case("J85", "aud-empty-string", "audience_mismatch", _claims(aud="")),
    case("J85", "aud-empty-array", "audience_mismatch", _claims(aud=[])),
    case("J86", "aud-suffix-near-miss", "audience_mismatch", _aud(lambda a: a + "X")),
    case("J86", "aud-parent-path", "audience_mismatch", _aud(lambda a: a.rsplit("/", 1)[0])),
    case("J86", "aud-upper-case", "audience_mismatch", _aud(str.upper)),
    case("J86", "aud-trailing-slash", "audience_mismatch", _aud(lambda a: a + "/")),
    case(
        "J92",
        "aud-substituted-other-service",
        "audience_mismatch",
        _claims(aud="spiffe://example.org/tools/mail"),
    ),
    case("J87", "aud-one-element-array", VALID, _aud(lambda a: [a])),
    case(
        "J96",
        "aud-array-with-audience-policy-never-granted",
        "policy_denied",
        _aud(lambda a: ["spiffe://example.org/tools/mail", a]),
    ),
    case(
        "J96",
        "scope-policy-never-granted",
        "policy_denied",
        _claims(scope="search:read search:admin"),
    ),
    case(
        "J93",
        "sub-not-the-client-and-no-policy-for-it",
        "policy_denied",
        _claims(sub="spiffe://example.org/users/alice"),
    ),
    case("J84", "client-id-not-a-spiffe-id", "presenter_mismatch", _claims(client_id="planner")),
    case("J97", "required-scope-missing", "insufficient_scope", _scopes("docs:write")),
    case("J97", "required-scope-carried", VALID, _scopes("search:read")),
    case("J97", "required-scope-prefix", "insufficient_scope", _scopes("search")),
    case("J97", "required-scope-other-case", "insufficient_scope", _scopes("SEARCH:READ")),
)

CLAIMS: tuple[Case, ...] = (*SHAPES, *MEANING)
