"""One test per reason code (token-profile section 3), named by the defect, plus ordering."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tokenkit import (
    AGENT_ID,
    DROP,
    ISSUERS,
    NOW,
    SERVICE_ID,
    SIGNER_ID,
    TD,
    World,
    b64u,
    x5c,
    x5t,
)

from spiffebind.errors import ConfigError, Reason, TokenRejected
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.pki import Authority, Issued
from spiffebind.token import VerifierSettings

VALID = "valid"


@dataclass
class Revocations:
    jtis: set[str] = field(default_factory=set)
    txns: set[str] = field(default_factory=set)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        return jti in self.jtis or txn in self.txns


@dataclass
class Feed:
    in_sync: bool

    def vouches(self) -> bool:
        return self.in_sync


@dataclass
class Policy:
    allow: bool = True
    seen: list[Any] = field(default_factory=list)

    def allows(self, claims: Any) -> bool:
        self.seen.append(claims)
        return self.allow


def outcome(
    w: World,
    token: str,
    *,
    presented: Any = None,
    scopes: tuple[str, ...] = (),
    audience: str = SERVICE_ID,
    revoked: Revocations | None = None,
    policy: Policy | None = None,
    check_binding: bool = True,
    **verifier_kwargs: Any,
) -> str:
    verifier = w.verifier(
        revocation=revoked or Revocations(), policy=policy or Policy(), **verifier_kwargs
    )
    try:
        verifier.verify(
            token,
            audience=audience,
            presented_chain=[w.agent.cert] if presented is None else presented,
            required_scopes=scopes,
            check_binding=check_binding,
        )
    except TokenRejected as exc:
        return exc.reason.value
    return VALID


def at(offset: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(NOW + offset, dt.UTC)


def signed_by(w: World, **issue: Any) -> str:
    """A baseline token whose signer certificate is issued with the given defect."""
    signer = w.inter.issue(SIGNER_ID, **issue)
    return w.forge(signer=signer)


def presenting(w: World, presenter: Issued, **claims: Any) -> str:
    """A token bound to ``presenter``'s certificate, presented by it."""
    bound = {"cnf": {"x5t#S256": x5t(presenter.cert)}, **claims}
    return outcome(w, w.forge(claims=bound), presented=[presenter.cert])


def splice(w: World, claims: dict[str, Any]) -> str:
    """The baseline's header and signature around a changed payload."""
    header, _, signature = w.forge().split(".")
    return f"{header}.{w.forge(claims=claims).split('.')[1]}.{signature}"


def minted_by_agent(w: World) -> Issued:
    """A signer certificate for our issuer ID, signed with the agent's own SVID key."""
    fake_ca = Authority(TD, w.agent.cert, w.agent.key, (w.inter.cert, w.root.cert), w.root.now)
    return fake_ca.issue(SIGNER_ID)


Case = Callable[[World], str]

CASES: dict[str, tuple[Case, Reason | str]] = {
    "baseline": (lambda w: outcome(w, w.forge()), VALID),
    # 1 malformed
    "missing-signature-segment": (lambda w: outcome(w, w.forge().rsplit(".", 1)[0]), "malformed"),
    "trailing-newline": (lambda w: outcome(w, w.forge() + "\n"), "malformed"),
    "oversize": (lambda w: outcome(w, w.forge(claims={"pad": "A" * 9000})), "malformed"),
    "duplicate-claim": (
        lambda w: outcome(w, w.forge(claims=b'{"sub":"a","sub":"b"}')),
        "malformed",
    ),
    **{
        f"missing-{name}": ((lambda w, n=name: outcome(w, w.forge(claims={n: DROP}))), "malformed")
        for name in ("iss", "sub", "client_id", "aud", "exp", "iat", "jti")
    },
    "exp-as-string": (lambda w: outcome(w, w.forge(claims={"exp": str(NOW + 300)})), "malformed"),
    "exp-as-bool": (lambda w: outcome(w, w.forge(claims={"exp": True})), "malformed"),
    "exp-as-float": (lambda w: outcome(w, w.forge(claims={"exp": NOW + 300.5})), "malformed"),
    "nbf-null": (lambda w: outcome(w, w.forge(claims={"nbf": None})), "malformed"),
    "jti-too-short": (lambda w: outcome(w, w.forge(claims={"jti": "abcd1234"})), "malformed"),
    "aud-with-number": (lambda w: outcome(w, w.forge(claims={"aud": [1]})), "malformed"),
    "scope-not-string": (lambda w: outcome(w, w.forge(claims={"scope": ["a"]})), "malformed"),
    "kid-not-string": (lambda w: outcome(w, w.forge(header={"kid": 123})), "malformed"),
    "act-sub-not-spiffe-id": (
        lambda w: outcome(w, w.forge(claims={"act": {"sub": "planner"}})),
        "malformed",
    ),
    "authorization-details-without-type": (
        lambda w: outcome(w, w.forge(claims={"authorization_details": [{"x": 1}]})),
        "malformed",
    ),
    # 2 unsupported_alg
    "alg-none": (lambda w: outcome(w, w.forge(header={"alg": "none"})), "unsupported_alg"),
    "alg-hs256": (lambda w: outcome(w, w.forge(header={"alg": "HS256"})), "unsupported_alg"),
    "alg-missing": (lambda w: outcome(w, w.forge(header={"alg": DROP})), "unsupported_alg"),
    "alg-lower-case": (lambda w: outcome(w, w.forge(header={"alg": "es256"})), "unsupported_alg"),
    "alg-curve-mismatch": (
        lambda w: outcome(w, w.forge(header={"alg": "ES384"})),
        "unsupported_alg",
    ),
    "alg-family-mismatch": (
        lambda w: outcome(w, w.forge(header={"alg": "RS256"})),
        "unsupported_alg",
    ),
    "alg-ps256-off-profile": (
        lambda w: outcome(w, w.forge(header={"alg": "PS256"})),
        "unsupported_alg",
    ),
    "rsa-1024-signer": (
        lambda w: outcome(
            w,
            w.forge(header={"alg": "RS256"}, signer=w.inter.issue(SIGNER_ID, key_type="rsa-1024")),
        ),
        "unsupported_alg",
    ),
    # 3 wrong_type
    "typ-missing": (lambda w: outcome(w, w.forge(header={"typ": DROP})), "wrong_type"),
    "typ-jwt-svid": (lambda w: outcome(w, w.forge(header={"typ": "JWT"})), "wrong_type"),
    "typ-request-proof": (
        lambda w: outcome(w, w.forge(header={"typ": "spiffebind-req+jwt"})),
        "wrong_type",
    ),
    "typ-media-type-spelling": (
        lambda w: outcome(w, w.forge(header={"typ": "Application/AT+JWT"})),
        VALID,
    ),
    # 4 forbidden_header (one case per header below)
    # 5 untrusted_signer
    "x5c-missing": (lambda w: outcome(w, w.forge(header={"x5c": DROP})), "untrusted_signer"),
    "x5c-empty": (lambda w: outcome(w, w.forge(header={"x5c": []})), "untrusted_signer"),
    "x5c-string": (
        lambda w: outcome(w, w.forge(header={"x5c": x5c(w.signer.chain)[0]})),
        "untrusted_signer",
    ),
    "x5c-url-safe-base64": (
        lambda w: outcome(
            w,
            w.forge(
                header={"x5c": [s.replace("+", "-").replace("/", "_") for s in x5c(w.signer.chain)]}
            ),
        ),
        "untrusted_signer",
    ),
    "x5c-missing-intermediate": (
        lambda w: outcome(w, w.forge(header={"x5c": x5c([w.signer.cert])})),
        "untrusted_signer",
    ),
    "x5c-reversed": (
        lambda w: outcome(w, w.forge(header={"x5c": x5c(w.signer.chain[::-1])})),
        "untrusted_signer",
    ),
    "x5c-brings-own-rogue-root": (
        lambda w: outcome(
            w,
            w.forge(
                header={"x5c": x5c([(s := w.rogue.issue(SIGNER_ID)).cert, w.rogue.cert])},
                signer=s,
            ),
        ),
        "untrusted_signer",
    ),
    "rogue-ca-same-trust-domain-name": (
        lambda w: outcome(w, w.forge(signer=w.rogue.issue(SIGNER_ID))),
        "untrusted_signer",
    ),
    "foreign-ca-mints-our-id": (
        lambda w: outcome(w, w.forge(signer=w.other.issue(SIGNER_ID))),
        "untrusted_signer",
    ),
    "unfederated-trust-domain": (
        lambda w: outcome(
            w,
            w.forge(
                signer=w.other.issue("spiffe://other.org/spiffebind/n"),
                claims={"iss": "spiffe://other.org/spiffebind/n"},
            ),
            bundles={TD: [w.root.cert]},
            settings=VerifierSettings((IdPattern.parse("spiffe://other.org/spiffebind/*"),)),
        ),
        "untrusted_signer",
    ),
    "signer-expired": (
        lambda w: outcome(w, signed_by(w, not_before=at(-7200))),
        "untrusted_signer",
    ),
    "signer-not-yet-valid": (
        lambda w: outcome(w, signed_by(w, not_before=at(3600))),
        "untrusted_signer",
    ),
    "signer-is-a-ca": (
        lambda w: outcome(w, signed_by(w, is_ca=True, key_cert_sign=True)),
        "untrusted_signer",
    ),
    "signer-two-uri-sans": (
        lambda w: outcome(w, signed_by(w, uris=[SIGNER_ID, "spiffe://example.org/x"])),
        "untrusted_signer",
    ),
    "signer-without-digital-signature": (
        lambda w: outcome(w, signed_by(w, digital_signature=False)),
        "untrusted_signer",
    ),
    "signer-with-key-cert-sign": (
        lambda w: outcome(w, signed_by(w, key_cert_sign=True)),
        "untrusted_signer",
    ),
    "signer-root-path-id": (
        lambda w: outcome(w, signed_by(w, uris=["spiffe://example.org"])),
        "untrusted_signer",
    ),
    "signer-chain-too-long": (
        lambda w: outcome(w, w.forge(header={"x5c": x5c([*w.signer.chain] * 3)})),
        "untrusted_signer",
    ),
    "agent-svid-used-as-issuing-ca": (
        lambda w: outcome(w, w.forge(signer=minted_by_agent(w))),
        "untrusted_signer",
    ),
    # 6 untrusted_issuer
    "agent-svid-as-issuer": (
        lambda w: outcome(w, w.forge(signer=w.agent, claims={"iss": AGENT_ID})),
        "untrusted_issuer",
    ),
    "federated-signer-not-an-issuer": (
        lambda w: outcome(
            w,
            w.forge(
                signer=w.other.issue("spiffe://other.org/spiffebind/node-1"),
                claims={"iss": "spiffe://other.org/spiffebind/node-1"},
            ),
        ),
        "untrusted_issuer",
    ),
    "issuer-pattern-boundary": (
        lambda w: outcome(w, w.forge(signer=w.inter.issue("spiffe://example.org/spiffebindx/n"))),
        "untrusted_issuer",
    ),
    # 7 bad_signature
    "claim-tampered": (lambda w: outcome(w, splice(w, {"scope": "admin"})), "bad_signature"),
    "borrowed-x5c-attacker-key": (
        lambda w: outcome(w, w.forge(key=ec.generate_private_key(ec.SECP256R1()))),
        "bad_signature",
    ),
    "psychic-zero-signature": (
        lambda w: outcome(w, w.forge().rsplit(".", 1)[0] + "." + b64u(bytes(64))),
        "bad_signature",
    ),
    "empty-signature": (lambda w: outcome(w, w.forge().rsplit(".", 1)[0] + "."), "bad_signature"),
    # 8 issuer_mismatch
    "iss-another-node": (
        lambda w: outcome(w, w.forge(claims={"iss": "spiffe://example.org/spiffebind/node-2"})),
        "issuer_mismatch",
    ),
    "iss-trailing-slash": (
        lambda w: outcome(w, w.forge(claims={"iss": SIGNER_ID + "/"})),
        "issuer_mismatch",
    ),
    # 9 time
    "expired-beyond-skew": (
        lambda w: outcome(w, w.forge(claims={"iat": NOW - 331, "exp": NOW - 31})),
        "expired",
    ),
    "expired-within-skew": (
        lambda w: outcome(w, w.forge(claims={"iat": NOW - 320, "exp": NOW - 20})),
        VALID,
    ),
    "exp-zero": (lambda w: outcome(w, w.forge(claims={"iat": 0, "exp": 0})), "expired"),
    "nbf-in-future": (lambda w: outcome(w, w.forge(claims={"nbf": NOW + 60})), "not_yet_valid"),
    "iat-in-future": (
        lambda w: outcome(w, w.forge(claims={"iat": NOW + 60, "nbf": NOW})),
        "not_yet_valid",
    ),
    "lifetime-ten-years": (
        lambda w: outcome(w, w.forge(claims={"exp": NOW + 10 * 365 * 86400})),
        "lifetime_too_long",
    ),
    "exp-ten-to-the-thirty": (
        lambda w: outcome(w, w.forge(claims={"exp": 10**30})),
        "lifetime_too_long",
    ),
    # 10 audience_mismatch
    "aud-other-service": (
        lambda w: outcome(w, w.forge(claims={"aud": "spiffe://example.org/tools/mail"})),
        "audience_mismatch",
    ),
    "aud-near-miss": (
        lambda w: outcome(w, w.forge(claims={"aud": SERVICE_ID + "X"})),
        "audience_mismatch",
    ),
    "aud-empty-array": (lambda w: outcome(w, w.forge(claims={"aud": []})), "audience_mismatch"),
    "aud-array-contains": (
        lambda w: outcome(w, w.forge(claims={"aud": ["spiffe://x.org/y", SERVICE_ID]})),
        VALID,
    ),
    # 11 binding_missing
    "cnf-missing": (lambda w: outcome(w, w.forge(claims={"cnf": DROP})), "binding_missing"),
    "cnf-sha1-only": (
        lambda w: outcome(w, w.forge(claims={"cnf": {"x5t": "abc"}})),
        "binding_missing",
    ),
    "cnf-lower-case-member": (
        lambda w: outcome(w, w.forge(claims={"cnf": {"x5t#s256": x5t(w.agent.cert)}})),
        "binding_missing",
    ),
    "cnf-string": (lambda w: outcome(w, w.forge(claims={"cnf": "abc"})), "binding_missing"),
    "no-presented-certificate": (
        lambda w: outcome(w, w.forge(), presented=[]),
        "binding_missing",
    ),
    # 12 binding_mismatch
    "sibling-pod-same-id-other-key": (
        lambda w: outcome(w, w.forge(), presented=[w.sibling.cert]),
        "binding_mismatch",
    ),
    "thumbprint-padded": (
        lambda w: outcome(w, w.forge(claims={"cnf": {"x5t#S256": x5t(w.agent.cert) + "="}})),
        "binding_mismatch",
    ),
    "thumbprint-of-intermediate": (
        lambda w: outcome(w, w.forge(), presented=[w.inter.cert, w.agent.cert]),
        "binding_mismatch",
    ),
    # 13 presenter_mismatch
    "client-id-is-not-the-presenter": (
        lambda w: presenting(w, w.service),
        "presenter_mismatch",
    ),
    "presenter-from-foreign-ca": (
        lambda w: presenting(w, w.other.issue(AGENT_ID)),
        "presenter_mismatch",
    ),
    "presenter-expired": (
        lambda w: presenting(w, w.inter.issue(AGENT_ID, not_before=at(-7200))),
        "presenter_mismatch",
    ),
    "presenter-is-a-ca": (
        lambda w: presenting(w, w.inter.issue(AGENT_ID, is_ca=True, key_cert_sign=True)),
        "presenter_mismatch",
    ),
    "presenter-two-uri-sans": (
        lambda w: presenting(w, w.inter.issue(AGENT_ID, uris=[AGENT_ID, SERVICE_ID])),
        "presenter_mismatch",
    ),
    "presenter-unfederated": (
        lambda w: presenting(
            w, w.rogue.issue("spiffe://third.org/a"), client_id="spiffe://third.org/a"
        ),
        "presenter_mismatch",
    ),
    "federated-presenter": (
        lambda w: presenting(
            w, w.other.issue("spiffe://other.org/a"), client_id="spiffe://other.org/a"
        ),
        VALID,
    ),
    # 14-16
    "jti-revoked": (
        lambda w: outcome(w, w.forge(), revoked=Revocations(jtis={w.claims()["jti"]})),
        "revoked",
    ),
    "txn-revoked": (
        lambda w: outcome(w, w.forge(), revoked=Revocations(txns={"task-1"})),
        "revoked",
    ),
    "policy-no-longer-allows": (
        lambda w: outcome(w, w.forge(), policy=Policy(allow=False)),
        "policy_denied",
    ),
    "scope-not-carried": (
        lambda w: outcome(w, w.forge(), scopes=("docs:write",)),
        "insufficient_scope",
    ),
    "scope-carried": (lambda w: outcome(w, w.forge(), scopes=("search:read",)), VALID),
    "unknown-header-ignored": (lambda w: outcome(w, w.forge(header={"foo": 1})), VALID),
    "hostile-kid-ignored": (
        lambda w: outcome(w, w.forge(header={"kid": "../../../../dev/null"})),
        VALID,
    ),
}

for _name in ("jku", "x5u", "jwk", "crit", "zip", "b64", "cty"):
    CASES[f"header-{_name}"] = (
        lambda w, n=_name: outcome(w, w.forge(header={n: "x"})),
        "forbidden_header",
    )


@pytest.mark.parametrize(
    ("defect", "expected"), [(k, v[1]) for k, v in CASES.items()], ids=list(CASES)
)
def test_reason_for_defect(world: World, defect: str, expected: str) -> None:
    assert CASES[defect][0](world) == expected


ORDERED: dict[str, tuple[Case, str]] = {
    "malformed-before-bad-signature": (
        lambda w: outcome(
            w, w.forge(claims={"exp": "soon"}, key=ec.generate_private_key(ec.SECP256R1()))
        ),
        "malformed",
    ),
    "unsupported-alg-before-wrong-type": (
        lambda w: outcome(w, w.forge(header={"alg": "HS256", "typ": "JWT"})),
        "unsupported_alg",
    ),
    "wrong-type-before-forbidden-header": (
        lambda w: outcome(w, w.forge(header={"typ": "JWT", "jku": "https://x"})),
        "wrong_type",
    ),
    "forbidden-header-before-untrusted-signer": (
        lambda w: outcome(w, w.forge(header={"jwk": {}, "x5c": DROP})),
        "forbidden_header",
    ),
    "untrusted-signer-before-untrusted-issuer": (
        lambda w: outcome(w, w.forge(signer=w.rogue.issue(AGENT_ID))),
        "untrusted_signer",
    ),
    "untrusted-issuer-before-bad-signature": (
        lambda w: outcome(w, w.forge(signer=w.agent, key=ec.generate_private_key(ec.SECP256R1()))),
        "untrusted_issuer",
    ),
    "bad-signature-before-issuer-mismatch": (
        lambda w: outcome(
            w,
            w.forge(claims={"iss": AGENT_ID}, key=ec.generate_private_key(ec.SECP256R1())),
        ),
        "bad_signature",
    ),
    "issuer-mismatch-before-expired": (
        lambda w: outcome(w, w.forge(claims={"iss": AGENT_ID, "exp": NOW - 100})),
        "issuer_mismatch",
    ),
    "expired-before-audience-mismatch": (
        lambda w: outcome(w, w.forge(claims={"exp": NOW - 100}), audience="spiffe://x.org/y"),
        "expired",
    ),
    "audience-mismatch-before-binding-missing": (
        lambda w: outcome(w, w.forge(), audience="spiffe://x.org/y", presented=[]),
        "audience_mismatch",
    ),
    "binding-missing-before-revoked": (
        lambda w: outcome(w, w.forge(claims={"cnf": DROP}), revoked=Revocations(txns={"task-1"})),
        "binding_missing",
    ),
    "binding-mismatch-before-presenter-mismatch": (
        lambda w: outcome(w, w.forge(), presented=[w.service.cert]),
        "binding_mismatch",
    ),
    "presenter-mismatch-before-revoked": (
        lambda w: outcome(
            w,
            w.forge(claims={"cnf": {"x5t#S256": x5t(w.service.cert)}}),
            presented=[w.service.cert],
            revoked=Revocations(txns={"task-1"}),
        ),
        "presenter_mismatch",
    ),
    "revoked-before-policy-denied": (
        lambda w: outcome(w, w.forge(), revoked=Revocations(txns={"task-1"}), policy=Policy(False)),
        "revoked",
    ),
    "revoked-before-revocation-unavailable": (
        lambda w: outcome(w, w.forge(), revoked=Revocations(txns={"task-1"}), feed=Feed(False)),
        "revoked",
    ),
    "revocation-unavailable-before-policy-denied": (
        lambda w: outcome(w, w.forge(), feed=Feed(False), policy=Policy(False)),
        "revocation_unavailable",
    ),
    "binding-mismatch-before-revocation-unavailable": (
        lambda w: outcome(w, w.forge(), presented=[w.service.cert], feed=Feed(False)),
        "binding_mismatch",
    ),
    "feed-in-sync-vouches": (lambda w: outcome(w, w.forge(), feed=Feed(True)), VALID),
    "policy-denied-before-insufficient-scope": (
        lambda w: outcome(w, w.forge(), policy=Policy(False), scopes=("docs:write",)),
        "policy_denied",
    ),
}


@pytest.mark.parametrize("case", list(ORDERED))
def test_earlier_defect_wins(world: World, case: str) -> None:
    run, expected = ORDERED[case]
    assert run(world) == expected


def test_valid_token_returns_claims_and_delegation_chain(world: World) -> None:
    act = {"sub": "spiffe://example.org/agents/b", "act": {"sub": "spiffe://example.org/agents/a"}}
    token = world.forge(claims={"sub": "spiffe://example.org/users/alice", "act": act})
    result = world.verifier().verify(token, audience=SERVICE_ID, presented_chain=[world.agent.cert])
    assert result.chain == (
        "spiffe://example.org/users/alice",
        "spiffe://example.org/agents/b",
        "spiffe://example.org/agents/a",
    )
    assert result.signer_id == SIGNER_ID
    assert result.claims["client_id"] == AGENT_ID


def test_claims_are_read_only(world: World) -> None:
    result = world.verifier().verify(
        world.forge(), audience=SERVICE_ID, presented_chain=[world.agent.cert]
    )
    with pytest.raises(TypeError):
        result.claims["cnf"]["x5t#S256"] = "x"  # type: ignore[index]


def test_delegation_variant_skips_only_the_binding(world: World) -> None:
    assert outcome(world, world.forge(), presented=[], check_binding=False) == VALID
    expired = world.forge(claims={"exp": NOW - 100})
    assert outcome(world, expired, presented=[], check_binding=False) == "expired"


def test_policy_sees_the_verified_claims(world: World) -> None:
    policy = Policy()
    assert outcome(world, world.forge(), policy=policy) == VALID
    assert policy.seen[0]["sub"] == AGENT_ID


def test_missing_audience_is_a_usage_error(world: World) -> None:
    with pytest.raises(ConfigError):
        world.verifier().verify(world.forge(), audience="", presented_chain=[world.agent.cert])


def test_settings_need_an_issuer() -> None:
    with pytest.raises(ConfigError):
        VerifierSettings(())


def test_presenter_path_completed_from_token_x5c(world: World) -> None:
    """ext_authz sends only the leaf; the intermediate comes from the token's x5c."""
    assert outcome(world, world.forge(), presented=[world.agent.cert]) == VALID
    assert outcome(world, world.forge(), presented=[world.agent.cert, world.inter.cert]) == VALID


def test_presenter_path_from_verifier_hints(world: World) -> None:
    other_inter = world.root.intermediate()
    agent = other_inter.issue(AGENT_ID)
    token = world.forge(claims={"cnf": {"x5t#S256": x5t(agent.cert)}})
    assert outcome(world, token, presented=[agent.cert]) == "presenter_mismatch"
    hinted = VerifierSettings(ISSUERS, intermediates=(other_inter.cert,))
    assert outcome(world, token, presented=[agent.cert], settings=hinted) == VALID


def test_introspection_skips_audience_binding_and_scope_only(world: World) -> None:
    verifier = world.verifier()
    result = verifier.introspect(world.forge(claims={"aud": "spiffe://x.org/other"}))
    assert result.claims["sub"] == AGENT_ID
    for token, reason in [
        (world.forge(claims={"exp": NOW - 100}), Reason.EXPIRED),
        (world.forge(header={"typ": "JWT"}), Reason.WRONG_TYPE),
    ]:
        with pytest.raises(TokenRejected) as info:
            verifier.introspect(token)
        assert info.value.reason is reason
