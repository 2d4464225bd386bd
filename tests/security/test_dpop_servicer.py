"""VerifyToken and IntrospectToken with DPoP, through the servicer as the daemon wires it."""

from __future__ import annotations

import grpc
from servicerkit import servicer_rig

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.attacks import InProcess
from spiffebind.token.dpop import make_proof
from spiffebind.token.jwk import cert_jkt

URI = "https://tool.example.org/mcp"


def _request(world: InProcess, proof: str | None, **dpop: str) -> pb.VerifyTokenRequest:
    m = world.materials
    token = m.token()
    request = pb.VerifyTokenRequest(token=token, audience=m.audience)
    if proof is not None:
        made = make_proof(m.agent.key, method="POST", uri=URI, now=m.now, access_token=token)
        fields = {"proof": made if proof == "made" else proof, "method": "POST", "uri": URI}
        request.dpop.CopyFrom(pb.DpopProof(**{**fields, **dpop}))
    return request


def _verdict(response: object) -> tuple[bool, str, str]:
    assert isinstance(response, pb.VerifyTokenResponse)
    return response.valid, response.reason, response.dpop_nonce


def test_verify_token_accepts_a_dpop_proof(world: InProcess) -> None:
    with servicer_rig(world) as rig:
        code, response = rig.answer("VerifyToken", _request(world, "made"))
    assert (code, _verdict(response)) == (grpc.StatusCode.OK, (True, "", ""))


def test_the_dpop_scheme_without_a_proof_is_proof_invalid(world: InProcess) -> None:
    with servicer_rig(world) as rig:
        _, response = rig.answer("VerifyToken", _request(world, ""))
    assert _verdict(response) == (False, "proof_invalid", "")


def test_no_proof_and_no_certificate_is_binding_missing(world: InProcess) -> None:
    with servicer_rig(world) as rig:
        _, response = rig.answer("VerifyToken", _request(world, None))
    assert _verdict(response) == (False, "binding_missing", "")


def test_a_daemon_requiring_nonces_names_the_nonce_then_accepts_it(world: InProcess) -> None:
    m = world.materials
    with servicer_rig(world, dpop_require_nonce=True) as rig:
        _, first = rig.answer("VerifyToken", _request(world, "made"))
        valid, reason, nonce = _verdict(first)
        assert (valid, reason, len(nonce)) == (False, "proof_invalid", 43)
        token = m.token()
        proof = make_proof(
            m.agent.key, method="POST", uri=URI, now=m.now, access_token=token, nonce=nonce
        )
        request = pb.VerifyTokenRequest(token=token, audience=m.audience)
        request.dpop.CopyFrom(pb.DpopProof(proof=proof, method="POST", uri=URI))
        _, second = rig.answer("VerifyToken", request)
    assert _verdict(second) == (True, "", nonce)


def test_introspection_shows_cnf_jkt(world: InProcess) -> None:
    m = world.materials
    with servicer_rig(world) as rig:
        _, response = rig.answer("IntrospectToken", pb.IntrospectTokenRequest(token=m.token()))
    assert isinstance(response, pb.IntrospectTokenResponse)
    assert response.cnf_jkt == cert_jkt(m.agent.cert)
