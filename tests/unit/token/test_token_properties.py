"""Properties: minted tokens verify; any one-byte change is rejected; nothing else escapes."""

from __future__ import annotations

import json
import string
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenkit import AGENT_ID, NOW, SERVICE_ID, World

from spiffebind.errors import TokenRejected
from spiffebind.token import SigningIdentity, VerifiedToken, mint
from spiffebind.token.svid import load_der

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEGMENT = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8)
SPIFFE_IDS = st.builds("spiffe://example.org/{}/{}".format, SEGMENT, SEGMENT)
SCOPES = st.lists(st.text(string.ascii_letters + ":._-", min_size=1, max_size=12), max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
HEADER_NAMES = ("alg", "typ", "kid", "x5c", "crit", "jku", "x")
CLAIM_NAMES = ("iss", "sub", "client_id", "aud", "exp", "iat", "nbf", "jti", "scope", "cnf")
MORE_CLAIMS = ("txn", "act", "authorization_details", "may_act")
NAMES = st.sampled_from([*HEADER_NAMES, *CLAIM_NAMES, *MORE_CLAIMS])
CHANGES = st.dictionaries(NAMES, JSON, max_size=3)


def _outcome(
    world: World, token: str | bytes, presented: list[x509.Certificate] | None = None
) -> Any:
    try:
        return world.verifier().verify(
            token, audience=SERVICE_ID, presented_chain=presented or [world.agent.cert]
        )
    except TokenRejected as exc:
        return exc


@FAST
@given(
    audiences=st.lists(SPIFFE_IDS, min_size=1, max_size=3, unique=True),
    scopes=SCOPES,
    ttl=st.integers(1, 7200),
    txn=st.none() | st.text(string.printable, min_size=1, max_size=20),
    actors=st.lists(SPIFFE_IDS, max_size=3),
    elapsed=st.integers(0, 1800),
    details=st.lists(st.fixed_dictionaries({"type": st.text(min_size=1, max_size=10)}), max_size=2),
)
def test_every_minted_token_verifies(
    pki: World,
    audiences: list[str],
    scopes: list[str],
    ttl: int,
    txn: str | None,
    actors: list[str],
    elapsed: int,
    details: list[dict[str, str]],
) -> None:
    minted = mint(
        SigningIdentity(tuple(pki.signer.chain), pki.signer.key),
        agent_cert=pki.agent.cert,
        audiences=audiences,
        scopes=scopes,
        ttl=ttl,
        max_ttl=3600,
        now=NOW + elapsed,
        txn=txn,
        actors=actors,
        authorization_details=details,
    )
    pki.clock.t = NOW + elapsed
    result = pki.verifier().verify(
        minted.token,
        audience=audiences[-1],
        presented_chain=[pki.agent.cert],
        required_scopes=scopes,
    )
    assert result.chain == (AGENT_ID, *actors)
    assert json.loads(json.dumps(result.claims, default=dict)) == json.loads(
        json.dumps(minted.claims, default=dict)
    )


@FAST
@given(data=st.data())
def test_any_single_byte_change_to_the_token_is_rejected(pki: World, data: st.DataObject) -> None:
    pki.clock.t = NOW
    token = pki.forge().encode()
    index = data.draw(st.integers(0, len(token) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != token[index]))
    mutated = token[:index] + bytes([byte]) + token[index + 1 :]
    assert isinstance(_outcome(pki, mutated), TokenRejected)
    assert isinstance(_outcome(pki, mutated.decode("latin-1")), TokenRejected)


@FAST
@given(data=st.data())
def test_any_single_byte_change_to_the_presented_cert_is_rejected(
    pki: World, data: st.DataObject
) -> None:
    pki.clock.t = NOW
    der = pki.agent.cert.public_bytes(serialization.Encoding.DER)
    index = data.draw(st.integers(0, len(der) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != der[index]))
    cert = load_der(der[:index] + bytes([byte]) + der[index + 1 :])
    if cert is None:
        return  # not a certificate RFC 5280 allows: nothing could be presented
    assert isinstance(_outcome(pki, pki.forge(), [cert]), TokenRejected)


@FAST
@given(st.text(max_size=300) | st.binary(max_size=300) | st.text(max_size=9000))
def test_arbitrary_input_only_raises_token_rejected(pki: World, token: str | bytes) -> None:
    pki.clock.t = NOW
    assert isinstance(_outcome(pki, token), TokenRejected)


@FAST
@given(header=CHANGES, claims=CHANGES)
def test_structured_json_only_raises_token_rejected(
    pki: World, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    pki.clock.t = NOW
    result = _outcome(pki, pki.forge(header=header, claims=claims))
    assert isinstance(result, (TokenRejected, VerifiedToken))
