"""One test per finding of the security suites, through the daemon's servicer in-process.

- A JSON number such as ``1e400`` parsed to infinity: carried in a signed request's
  ``authorization_details`` it reached minting, whose strict JSON encoder raised ValueError,
  which gRPC reports as UNKNOWN. Numbers that are not finite are now ``malformed`` when
  parsed (spiffebind/token/jose.py).
- ``x509.InvalidVersion`` is no ValueError: a presented certificate or ``x5c`` entry with a
  bad version field escaped the DER loaders (UNKNOWN from VerifyToken; ``malformed`` instead
  of ``untrusted_signer`` for an x5c entry, corpus case J54-x5c-invalid-version-field), and
  the same certificate as URL-encoded PEM from Envoy crashed ext_authz's parser.
- IntrospectToken skips the binding checks, then read ``cnf.x5t#S256`` assuming the shape
  they check: a signed token with ``cnf: null`` (or a non-string thumbprint) raised
  AttributeError (UNKNOWN). Found by the servicer fuzz test.
- ext_authz trimmed the ``Authorization`` value with ``str.strip()``, so a token followed by
  a CR or LF (which no HTTP field value may hold: a sign of header smuggling) was accepted,
  where VerifyToken calls it ``malformed`` (corpus case J06-trailing-newline, run through
  ext_authz). Only spaces and tabs are trimmed now.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import grpc
import pytest
from servicerkit import Rig, servicer_rig

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.errors import Reason, TokenRejected
from spiffebind.service.ext_authz_credentials import access_token, pem_chain
from spiffebind.testing.attacks import InProcess
from spiffebind.testing.attacks.kit import raw_object
from spiffebind.testing.attacks.requests import forged, issue_params, proof
from spiffebind.testing.forge import b64u, der


@pytest.fixture
def rig(world: InProcess) -> Iterator[Rig]:
    with servicer_rig(world) as r:
        yield r


def _issue(rig: Rig, signed_request: str) -> grpc.StatusCode:
    return rig.call("IssueToken", pb.IssueTokenRequest(signed_request=signed_request))


def test_infinite_number_in_a_request_is_malformed_not_a_crash(world: InProcess, rig: Rig) -> None:
    m = world.materials
    details = [{"type": "search", "n": 1}]
    assert _issue(rig, proof(m, params={**issue_params(m), "authorization_details": details})) is (
        grpc.StatusCode.OK
    )
    claims = {"aud": m.signer_id, "iat": m.now, "jti": b64u(secrets.token_bytes(16))}
    raw = raw_object(
        {**claims, **issue_params(m)}, ("authorization_details", b'[{"type":"search","n":1e400}]')
    )
    assert _issue(rig, forged(m, claims=raw)) is grpc.StatusCode.INVALID_ARGUMENT


def _bad_version(world: InProcess) -> bytes:
    """The agent's certificate with its version field set to v6."""
    raw = der(world.materials.agent.cert)
    return raw.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1)


def test_presented_certificate_with_invalid_version_is_presenter_mismatch(
    world: InProcess, rig: Rig
) -> None:
    m = world.materials
    broken = _bad_version(world)
    request = pb.VerifyTokenRequest(
        token=m.token(), audience=m.audience, peer_certificates=[broken]
    )
    code, response = rig.answer("VerifyToken", request)
    assert code is grpc.StatusCode.OK
    assert isinstance(response, pb.VerifyTokenResponse)
    assert (response.valid, response.reason) == (False, "presenter_mismatch")


def test_envoy_certificate_with_invalid_version_is_presenter_mismatch(world: InProcess) -> None:
    body = base64.encodebytes(_bad_version(world)).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    with pytest.raises(TokenRejected) as info:
        pem_chain(quote(pem))
    assert info.value.reason is Reason.PRESENTER_MISMATCH


@pytest.mark.parametrize("tail", ["\n", "\r\n", "\r", "\x0b", "\x0c"])
def test_bearer_credential_with_a_line_break_is_malformed(tail: str) -> None:
    with pytest.raises(TokenRejected) as info:
        access_token(f"Bearer eyJ.eyJ.sig{tail}")
    assert info.value.reason is Reason.MALFORMED
    assert access_token(" Bearer eyJ.eyJ.sig\t") == ("Bearer", "eyJ.eyJ.sig")


@pytest.mark.parametrize("cnf", [None, "x", {"x5t#S256": 123}], ids=["null", "string", "number"])
def test_introspection_of_an_odd_cnf_is_active_without_a_thumbprint(
    world: InProcess, rig: Rig, cnf: object
) -> None:
    token = world.materials.token(claims={"cnf": cnf})
    code, response = rig.answer("IntrospectToken", pb.IntrospectTokenRequest(token=token))
    assert code is grpc.StatusCode.OK
    assert isinstance(response, pb.IntrospectTokenResponse)
    assert (response.active, response.cnf_x5t_s256) == (True, "")
