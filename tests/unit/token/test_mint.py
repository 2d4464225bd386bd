"""Minting: header and claims exactly per the profile, and every lifetime cap."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import pytest
from tokenkit import AGENT_ID, NOW, SERVICE_ID, SIGNER_ID, World, x5c, x5t

from spiffebind.errors import IdentityError, Reason, RequestRejected
from spiffebind.testing.pki import Issued
from spiffebind.token import MAX_TOKEN_BYTES, MintedToken, SigningIdentity, mint
from spiffebind.token.jose import parse_compact


def _mint(world: World, signer: Issued | None = None, **kwargs: Any) -> MintedToken:
    signer = signer or world.signer
    args: dict[str, Any] = {
        "agent_cert": world.agent.cert,
        "audiences": [SERVICE_ID],
        "scopes": ["search:read", "search:list"],
        "ttl": 300,
        "max_ttl": 3600,
        "now": NOW + 0.75,
        "txn": "task-1",
        "random_bytes": lambda n: b"\x07" * n,
    }
    return mint(SigningIdentity(tuple(signer.chain), signer.key), **{**args, **kwargs})


def test_header_and_claims(world: World) -> None:
    minted = _mint(world)
    jws = parse_compact(minted.token)
    assert dict(jws.header) == {
        "alg": "ES256",
        "typ": "at+jwt",
        "kid": x5t(world.signer.cert),
        "x5c": tuple(x5c([world.signer.cert, world.inter.cert])),  # no trust anchor
    }
    assert json.loads(json.dumps(jws.payload, default=dict)) == dict(minted.claims)
    assert dict(minted.claims) == {
        "iss": SIGNER_ID,
        "sub": AGENT_ID,
        "client_id": AGENT_ID,
        "aud": SERVICE_ID,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 300,
        "jti": "BwcHBwcHBwcHBwcHBwcHBw",
        "scope": "search:read search:list",
        "txn": "task-1",
        "cnf": {"x5t#S256": x5t(world.agent.cert)},
    }
    assert minted.exp == NOW + 300


def test_jti_has_128_bits_by_default(world: World) -> None:
    first = _mint(world, random_bytes=secrets.token_bytes)
    second = _mint(world, random_bytes=secrets.token_bytes)
    assert len(first.claims["jti"]) == 22
    assert first.claims["jti"] != second.claims["jti"]


def test_several_audiences_make_an_array(world: World) -> None:
    minted = _mint(world, audiences=[SERVICE_ID, "spiffe://example.org/tools/mail"])
    assert minted.claims["aud"] == [SERVICE_ID, "spiffe://example.org/tools/mail"]


def test_optional_claims(world: World) -> None:
    details = [{"type": "tool_invocation", "tool": "search"}]
    minted = _mint(
        world,
        subject="spiffe://example.org/users/alice",
        actors=["spiffe://example.org/agents/b", "spiffe://example.org/agents/a"],
        authorization_details=details,
        may_act={"sub": "spiffe://example.org/agents/c"},
        scopes=[],
        txn=None,
    )
    claims = minted.claims
    assert claims["sub"] == "spiffe://example.org/users/alice"
    assert claims["client_id"] == AGENT_ID
    assert claims["act"] == {
        "sub": "spiffe://example.org/agents/b",
        "act": {"sub": "spiffe://example.org/agents/a"},
    }
    assert claims["authorization_details"] == details
    assert claims["may_act"] == {"sub": "spiffe://example.org/agents/c"}
    assert "scope" not in claims
    assert "txn" not in claims


@pytest.mark.parametrize(
    ("kwargs", "expected_exp"),
    [
        ({"ttl": 7200}, NOW + 3600),
        ({"ttl": 7200, "max_ttl": 600}, NOW + 600),
        ({"upstream_exp": NOW + 42}, NOW + 42),
    ],
    ids=["max-ttl", "policy-max-ttl", "upstream-exp"],
)
def test_exp_caps(world: World, kwargs: dict[str, Any], expected_exp: int) -> None:
    assert _mint(world, **kwargs).exp == expected_exp


def test_exp_capped_by_agent_certificate(world: World) -> None:
    short = world.inter.issue(AGENT_ID, ttl=dt.timedelta(minutes=10))
    minted = _mint(world, agent_cert=short.cert, ttl=3600)
    assert minted.exp == int(short.cert.not_valid_after_utc.timestamp())


def test_exp_capped_by_signer_chain(world: World) -> None:
    short = world.inter.issue(SIGNER_ID, ttl=dt.timedelta(minutes=5))
    minted = _mint(world, signer=short, ttl=3600)
    assert minted.exp == int(short.cert.not_valid_after_utc.timestamp())


def test_expired_signer_refuses(world: World) -> None:
    with pytest.raises(IdentityError):
        _mint(world, now=NOW + 7200)


def test_no_lifetime_left(world: World) -> None:
    with pytest.raises(RequestRejected) as info:
        _mint(world, upstream_exp=NOW - 1)
    assert info.value.reason is Reason.EXPIRED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"audiences": []},
        {"ttl": 0},
        {"scopes": ["a b"]},
        {"scopes": [""]},
        {"actors": ["planner"]},
    ],
    ids=["no-audience", "zero-ttl", "scope-with-space", "empty-scope", "actor-not-spiffe-id"],
)
def test_bad_request_is_malformed(world: World, kwargs: dict[str, Any]) -> None:
    with pytest.raises(RequestRejected) as info:
        _mint(world, **kwargs)
    assert info.value.reason is Reason.MALFORMED


def test_agent_cert_must_be_an_svid(world: World) -> None:
    with pytest.raises(RequestRejected) as info:
        _mint(world, agent_cert=world.inter.cert)
    assert info.value.reason is Reason.UNTRUSTED_SIGNER


KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "ed25519"]


@pytest.fixture(scope="module")
def keyed(pki: World) -> dict[str, tuple[Issued, Issued]]:
    """Signer and agent SVIDs of every supported key type, generated once per module."""
    return {
        kt: (pki.inter.issue(SIGNER_ID, key_type=kt), pki.inter.issue(AGENT_ID, key_type=kt))
        for kt in KEY_TYPES
    }


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_every_key_type_mints_and_verifies(
    world: World, keyed: dict[str, tuple[Issued, Issued]], key_type: str
) -> None:
    signer, agent = keyed[key_type]
    minted = _mint(world, signer=signer, agent_cert=agent.cert)
    alg = {"ec-p256": "ES256", "ec-p384": "ES384", "rsa-2048": "RS256", "ed25519": "EdDSA"}
    assert parse_compact(minted.token).header["alg"] == alg[key_type]
    result = world.verifier().verify(
        minted.token, audience=SERVICE_ID, presented_chain=[agent.cert]
    )
    assert result.claims["client_id"] == AGENT_ID


def test_minted_delegation_chain_round_trips(world: World) -> None:
    actors = ["spiffe://example.org/agents/b", "spiffe://example.org/agents/a"]
    minted = _mint(world, subject="spiffe://example.org/users/u", actors=actors)
    result = world.verifier().verify(
        minted.token, audience=SERVICE_ID, presented_chain=[world.agent.cert]
    )
    assert result.chain == ("spiffe://example.org/users/u", *actors)


def _nested_signer(world: World) -> Issued:
    """A signer three certificates deep, RSA all the way down (a nested SPIRE)."""
    nested = world.inter.intermediate(key_type="rsa-2048").intermediate(key_type="rsa-2048")
    return nested.issue(SIGNER_ID, key_type="rsa-2048")


def test_a_token_over_the_profiles_size_is_never_minted(world: World) -> None:
    # Issue 15 item 6: a 3-certificate chain and a large request made an 8,929-byte token
    # that the daemon's own VerifyToken called malformed.
    signer = _nested_signer(world)
    audiences = [f"{SERVICE_ID}/{n:03}" for n in range(60)]
    with pytest.raises(RequestRejected) as info:
        _mint(world, signer, audiences=audiences)
    assert info.value.reason is Reason.MALFORMED
    assert "over the profile's 8192" in info.value.detail


def test_whatever_is_minted_fits_the_profile_and_verifies(world: World) -> None:
    signer, verifier = _nested_signer(world), world.verifier()
    outcomes = []
    for count in range(1, 80, 3):
        audiences = [f"{SERVICE_ID}/{n:03}" for n in range(count)]
        try:
            minted = _mint(world, signer, audiences=audiences)
        except RequestRejected as exc:
            outcomes.append(exc.reason.value)
            continue
        outcomes.append("minted")
        assert len(minted.token) <= MAX_TOKEN_BYTES
        verifier.verify(minted.token, audience=audiences[0], presented_chain=world.agent.chain)
    assert set(outcomes) == {"minted", "malformed"}
    assert outcomes == sorted(outcomes, key=lambda o: o == "malformed")  # one boundary
