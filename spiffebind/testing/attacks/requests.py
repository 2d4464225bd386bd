"""Signed-request attacks (catalogue section 3 "Signed request proofs", token-profile section 2):
proofs an attacker can make for IssueToken and RevokeToken, and the reason each must get.

A case builds the proofs to send in order: every one but the last must be accepted (so a
replay is a replay of a proof that worked), the last gets ``expected``. Q07 (parameters sent
beside the proof, unsigned) has no case: the v1 request messages carry nothing but the proof.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spiffebind.testing.attacks.kit import (
    VALID,
    Materials,
    issued_by_agent,
    raw_object,
    self_signed,
)
from spiffebind.testing.forge import DROP, b64u, compact, merged, natural_alg, x5c
from spiffebind.testing.pki import Issued
from spiffebind.token import REQUEST_TYP, SigningIdentity, sign_request

ISSUE = "issue"
REVOKE = "revoke"


@dataclass(frozen=True)
class RequestCase:
    ref: str
    name: str
    expected: str
    build: Callable[[Materials], Sequence[str]]
    rpc: str = ISSUE

    @property
    def id(self) -> str:
        return f"{self.ref}-{self.name}"


def issue_params(m: Materials) -> dict[str, Any]:
    return {"op": "issue", "audience": m.audience, "scope": "search:read"}


def proof(
    m: Materials,
    *,
    caller: Issued | None = None,
    params: Mapping[str, Any] | None = None,
    age: int = 0,
    daemon_id: str | None = None,
) -> str:
    """A proof as the SDK makes it, by ``caller`` (default: the agent), ``age`` seconds old."""
    who = caller or m.agent
    return sign_request(
        SigningIdentity(tuple(who.chain), who.key),
        daemon_id=daemon_id or m.signer_id,
        params=issue_params(m) if params is None else params,
        now=m.now - age,
    )


def forged(
    m: Materials,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | bytes | None = None,
    *,
    caller: Issued | None = None,
    key: Any = None,
) -> str:
    """A hand-made proof: the SDK's header and claims with changes, signed by ``key``."""
    who = caller or m.agent
    base = {"alg": natural_alg(who.key), "typ": REQUEST_TYP, "x5c": x5c(who.chain)}
    body = {
        "aud": m.signer_id,
        "iat": m.now,
        "jti": b64u(secrets.token_bytes(16)),
        **issue_params(m),
    }
    c = claims if isinstance(claims, bytes) else merged(body, claims or {})
    return compact(merged(base, header or {}), c, key if key is not None else who.key)


def _one(build: Callable[[Materials], str]) -> Callable[[Materials], Sequence[str]]:
    return lambda m: (build(m),)


def _twice(m: Materials) -> Sequence[str]:
    p = proof(m)
    return (p, p)


def _with_infinity(m: Materials) -> str:
    base = {
        "aud": m.signer_id,
        "iat": m.now,
        "jti": b64u(secrets.token_bytes(16)),
        **issue_params(m),
    }
    return forged(
        m, claims=raw_object(base, ("authorization_details", b'[{"type":"search","n":1e400}]'))
    )


def _rq(
    ref: str, name: str, expected: str, build: Callable[[Materials], str], rpc: str = ISSUE
) -> RequestCase:
    return RequestCase(ref, name, expected, _one(build), rpc)


REQUEST_CASES: tuple[RequestCase, ...] = (
    _rq("Q00", "proof-as-the-sdk-makes-it", VALID, proof),
    RequestCase("Q01", "proof-replayed", "replayed", _twice),
    _rq("Q02", "proof-stale", "expired", lambda m: proof(m, age=120)),
    _rq("Q02", "proof-from-the-future", "not_yet_valid", lambda m: proof(m, age=-120)),
    _rq("Q02", "proof-half-a-window-old", VALID, lambda m: proof(m, age=30)),
    _rq(
        "Q03",
        "proof-for-another-daemon",
        "audience_mismatch",
        lambda m: proof(m, daemon_id=m.signer_id.rsplit("/", 1)[0] + "/node-2"),
    ),
    _rq(
        "Q04",
        "proof-key-not-the-certificates",
        "bad_signature",
        lambda m: forged(m, key=m.sibling.key),
    ),
    _rq(
        "Q05",
        "proof-from-unfederated-trust-domain",
        "untrusted_signer",
        lambda m: proof(m, caller=m.stranger.issue(f"spiffe://{m.stranger.trust_domain}/agents/x")),
    ),
    _rq(
        "Q05",
        "proof-from-rogue-ca-with-agent-id",
        "untrusted_signer",
        lambda m: proof(m, caller=m.rogue.issue(m.agent_id)),
    ),
    _rq(
        "Q05",
        "proof-self-signed",
        "untrusted_signer",
        lambda m: proof(m, caller=self_signed(m, m.agent_id)),
    ),
    _rq(
        "Q05",
        "proof-signed-by-agent-svid-as-ca",
        "untrusted_signer",
        lambda m: proof(m, caller=issued_by_agent(m, "spiffe://example.org/agents/minted")),
    ),
    _rq("Q06", "access-token-as-proof", "wrong_type", lambda m: m.token()),
    _rq("Q06", "jwt-svid-as-proof", "malformed", lambda m: m.jwt_svid),  # no jti: step 1
    _rq("Q06", "proof-typ-missing", "wrong_type", lambda m: forged(m, {"typ": DROP})),
    _rq("Q06", "proof-typ-access-token", "wrong_type", lambda m: forged(m, {"typ": "at+jwt"})),
    _rq("Q10", "proof-alg-none", "unsupported_alg", lambda m: forged(m, {"alg": "none"})),
    _rq("Q10", "proof-alg-hs256", "unsupported_alg", lambda m: forged(m, {"alg": "HS256"})),
    _rq(
        "Q10", "proof-embedded-jwk", "forbidden_header", lambda m: forged(m, {"jwk": {"kty": "EC"}})
    ),
    _rq("Q11", "proof-oversized", "malformed", lambda m: forged(m, claims={"pad": "A" * 9000})),
    _rq("Q11", "proof-garbage", "malformed", lambda m: "not.a.proof"),
    _rq("Q11", "proof-empty", "malformed", lambda m: ""),
    _rq("Q11", "proof-jti-too-short", "malformed", lambda m: forged(m, claims={"jti": "AAAA"})),
    _rq("Q11", "proof-iat-string", "malformed", lambda m: forged(m, claims={"iat": str(m.now)})),
    _rq("Q11", "proof-aud-missing", "malformed", lambda m: forged(m, claims={"aud": DROP})),
    _rq("Q11", "proof-number-overflowing-to-infinity", "malformed", _with_infinity),
    _rq(
        "Q08",
        "proof-claims-an-identity-parameter",
        "malformed",
        lambda m: proof(m, params={**issue_params(m), "client_id": "spiffe://example.org/admin"}),
    ),
    _rq(
        "Q12", "proof-without-op", "malformed", lambda m: proof(m, params={"audience": m.audience})
    ),
    _rq(
        "Q12",
        "revoke-proof-sent-to-issue",
        "malformed",
        lambda m: proof(m, params={"op": "revoke", "txn": "task-1"}),
    ),
    _rq("Q12", "issue-proof-sent-to-revoke", "malformed", proof, REVOKE),
)
