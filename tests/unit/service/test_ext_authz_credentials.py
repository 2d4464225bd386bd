"""Bearer and DPoP tokens, Envoy's URL-encoded PEM and XFCC, parsed strictly into reason codes."""

from __future__ import annotations

import pytest
from ext_authz_kit import AGENT_ID, Kit, leaf_pem, sha256_hex

from spiffebind.errors import Reason, TokenRejected
from spiffebind.service.ext_authz_credentials import access_token, forwarded_client, pem_chain
from spiffebind.testing.envoy import envoy_url_encode
from spiffebind.token import thumbprint


def test_access_token() -> None:
    assert access_token("Bearer abc.DEF-_~+/.x==") == ("Bearer", "abc.DEF-_~+/.x==")
    assert access_token("bEaReR   t") == ("Bearer", "t")
    assert access_token("dpop t") == ("DPoP", "t")


@pytest.mark.parametrize(
    "value", ["Basic dTpw", "DPoP", "Bearer", "Bearer a,b", "Bearer a=b", "DPoP a, DPoP b"]
)
def test_not_one_bound_token_is_malformed(value: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        access_token(value)
    assert caught.value.reason is Reason.MALFORMED


def test_envoy_encoded_chain_round_trips(kit: Kit) -> None:
    encoded = envoy_url_encode(kit.agent.chain_pem())
    assert "\n" not in encoded
    assert " " not in encoded
    assert pem_chain(encoded) == tuple(kit.agent.chain)
    assert pem_chain("") == ()


def test_the_same_certificate_text_is_parsed_once(kit: Kit) -> None:
    """Envoy repeats the peer's PEM on every request; parsing it each time was a sixth of a
    Check's Python work."""
    encoded = envoy_url_encode(kit.agent.chain_pem())
    first = pem_chain(encoded)
    assert pem_chain(encoded) is first


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("not a certificate", id="plain-text"),
        pytest.param(
            "-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----", id="bad-der"
        ),
        pytest.param("%FF%FE", id="not-utf8"),
        pytest.param("%C3%BC", id="not-ascii"),
    ],
)
def test_certificate_field_garbage_is_presenter_mismatch(field: str) -> None:
    for _ in range(2):  # a refusal is not remembered: the second call parses and refuses again
        with pytest.raises(TokenRejected) as caught:
            pem_chain(field)
        assert caught.value.reason is Reason.PRESENTER_MISMATCH


def test_xfcc_hash_becomes_the_x5t_of_the_same_certificate(kit: Kit) -> None:
    digest = sha256_hex(kit.agent).upper()
    xfcc = f'By=spiffe://example.org/e;Hash={digest};Subject="O=a,CN=b;c";URI={AGENT_ID}'
    presented = forwarded_client(xfcc)
    assert presented.x5t == thumbprint(kit.agent.cert)
    assert presented.spiffe_id == AGENT_ID
    assert presented.chain == ()


def test_xfcc_cert_gives_the_certificate_itself(kit: Kit) -> None:
    cert = envoy_url_encode(leaf_pem(kit.agent))
    presented = forwarded_client(f'Hash={sha256_hex(kit.agent)};Cert="{cert}";URI={AGENT_ID}')
    assert presented.chain == (kit.agent.cert,)


@pytest.mark.parametrize(
    "xfcc",
    [
        pytest.param("Hash={h};URI={u},Hash={h};URI={u}", id="two-elements-appended"),
        pytest.param("Hash={h}", id="no-uri"),
        pytest.param("URI={u}", id="no-hash"),
        pytest.param("Hash=abc;URI={u}", id="short-hash"),
        pytest.param("Hash={h};URI=https://example.org/a", id="uri-not-spiffe"),
        pytest.param("Hash={h};URI={u};URI=spiffe://example.org/x", id="two-uris"),
        pytest.param('Hash={h};URI={u};Subject="open', id="unterminated-quote"),
        pytest.param("Hash={h};URI={u};junk", id="pair-without-equals"),
        pytest.param('Cert="";Hash={h};URI={u};Chain="%0A"', id="empty-chain"),
    ],
)
def test_bad_xfcc_is_presenter_mismatch(kit: Kit, xfcc: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        forwarded_client(xfcc.format(h=sha256_hex(kit.agent), u=AGENT_ID))
    assert caught.value.reason is Reason.PRESENTER_MISMATCH
