"""Acceptance 9 (token engine): a real JWT-SVID is not an access token here, and our access
token is not a JWT-SVID to SPIFFE's own code (py-spiffe, and the SPIRE agent's validator).

The daemon's answer for a JWT-SVID is the first failing step of token-profile section 3. A
SPIRE v1.13 JWT-SVID carries only ``sub``, ``aud``, ``exp`` and ``iat``: it lacks the
required ``iss``, ``client_id`` and ``jti``, so step 1 (``malformed``) fails before the
``typ`` check (step 3, ``wrong_type``) is reached.
"""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from daemonkit import SEARCH, Agents, agent_cli, issue
from spiffe import JwtBundle, JwtSvid, TrustDomain
from spiffe.errors import PySpiffeError

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.clock import SystemClock
from spiffebind.errors import TokenRejected
from spiffebind.spiffeid import IdPattern
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import StaticBundles, Verifier, VerifierSettings

pytestmark = pytest.mark.integration

FIRST_FAILING_STEP = "malformed"


def _jwt_svid(spire: SpireTestBed, gid: int) -> str:
    """A JWT-SVID for ``SEARCH``, fetched from the agent as a process of ``gid``."""
    done = agent_cli(spire, gid, "fetch", "jwt", "-audience", SEARCH, "-output", "json")
    return str(json.loads(done.stdout)[0]["svids"][0]["svid"])


def _jwt_bundle(spire: SpireTestBed) -> JwtBundle:
    """The trust domain's JWT authorities, from the server's SPIFFE bundle."""
    keys = json.loads(spire.server.cli("bundle", "show", "-format", "spiffe"))["keys"]
    jwks = {"keys": [k for k in keys if k.get("use") == "jwt-svid"]}
    return JwtBundle.parse(TrustDomain(spire.trust_domain), json.dumps(jwks).encode())


def test_jwt_svid_is_refused_by_daemon_and_in_process_verifier(
    spire: SpireTestBed,
    daemon: DaemonProcess,
    agents: Agents,
    stub: spiffebind_pb2_grpc.TokenServiceStub,
) -> None:
    svid = _jwt_svid(spire, agents.a.gid)
    roots = tuple(x509.load_pem_x509_certificates(spire.server.bundle_pem()))
    verifier = Verifier(
        VerifierSettings((IdPattern.parse(daemon.spiffe_id),)),
        bundles=StaticBundles({spire.trust_domain: roots}),
        clock=SystemClock(),
    )

    remote = stub.VerifyToken(
        pb.VerifyTokenRequest(token=svid, audience=SEARCH, peer_certificates=agents.a.chain_der),
        timeout=10,
    )
    introspected = stub.IntrospectToken(pb.IntrospectTokenRequest(token=svid), timeout=10)
    with pytest.raises(TokenRejected) as local:
        verifier.verify(svid, audience=SEARCH, presented_chain=agents.a.identity.chain)

    assert (remote.valid, remote.reason) == (False, FIRST_FAILING_STEP)
    assert local.value.reason == FIRST_FAILING_STEP
    assert not introspected.active


def test_access_token_is_not_a_jwt_svid(
    spire: SpireTestBed,
    daemon: DaemonProcess,
    agents: Agents,
    stub: spiffebind_pb2_grpc.TokenServiceStub,
) -> None:
    token = issue(stub, agents.a.issue_proof(daemon.spiffe_id, "not-a-jwt-svid")).access_token
    svid, bundle = _jwt_svid(spire, agents.a.gid), _jwt_bundle(spire)

    def agent_validates(jwt: str) -> bool:
        validate = ("validate", "jwt", "-audience", SEARCH, "-svid", jwt)
        return agent_cli(spire, agents.a.gid, *validate, check=False).returncode == 0

    assert agent_validates(svid)
    assert JwtSvid.parse_and_validate(svid, bundle, {SEARCH}).spiffe_id == agents.a.spiffe_id
    assert not agent_validates(token)
    with pytest.raises(PySpiffeError):
        JwtSvid.parse_insecure(token, {SEARCH})
    with pytest.raises(PySpiffeError):
        JwtSvid.parse_and_validate(token, bundle, {SEARCH})
