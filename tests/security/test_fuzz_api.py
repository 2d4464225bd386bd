"""Fuzzing (hypothesis, bounded): tokens and JSON against the verifier, proofs against the
request checks, every RPC's request message against the daemon's servicer in-process, and
Envoy's CheckRequest against ext_authz.

The properties: nothing but our own errors ever escapes, every refusal carries a reason of
the profile, no single-character change of a valid token is valid, the servicer never
answers INTERNAL or UNKNOWN, and ext_authz answers every check with allow or a denial that
names a reason. tests/integration/security/test_fuzz_daemon.py sends a few
examples of the same messages to the real daemon over its socket.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servicerkit import Rig, servicer_rig

from spiffebind.api.ext_authz_map import check_response, http_check
from spiffebind.errors import Reason, RequestRejected
from spiffebind.service.ext_authz import ExtAuthz
from spiffebind.service.ext_authz_routes import ExtAuthzSettings
from spiffebind.service.params import issue_params
from spiffebind.testing.attacks import VALID, Attempt, InProcess, verdict
from spiffebind.testing.attacks.fuzzing import (
    SERVICE,
    check_requests,
    proofs,
    requests_for,
    tokens,
)
from spiffebind.token import ReplayCache, check_request

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
REASONS = {r.value for r in Reason}
SERVER_FAULTS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
DECISIONS = (code_pb2.OK, code_pb2.UNAUTHENTICATED, code_pb2.PERMISSION_DENIED)


@pytest.fixture(scope="module")
def rig(world: InProcess) -> Iterator[Rig]:
    with servicer_rig(world) as r:
        yield r


@BOUNDED
@given(data=st.data())
def test_verifier_answers_every_token_with_one_reason(
    world: InProcess, data: st.DataObject
) -> None:
    m = world.materials
    token = data.draw(tokens(m))
    assert verdict(world.verifier(), m, Attempt(token)) in REASONS | {VALID}


@BOUNDED
@given(data=st.data())
def test_no_single_character_change_is_valid(world: InProcess, data: st.DataObject) -> None:
    m = world.materials
    token = m.token()
    i = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[i]))
    assert verdict(world.verifier(), m, Attempt(token[:i] + char + token[i + 1 :])) != VALID


def _request_outcome(world: InProcess, proof: str) -> str:
    m = world.materials
    try:
        request = check_request(
            proof, daemon_id=m.signer_id, bundles=world.bundles, now=m.now, replay=ReplayCache()
        )
        issue_params(request.params)
    except RequestRejected as exc:
        return exc.reason.value
    return VALID


@BOUNDED
@given(data=st.data())
def test_request_checks_answer_every_proof_with_one_reason(
    world: InProcess, data: st.DataObject
) -> None:
    proof = data.draw(proofs(world.materials))
    assert _request_outcome(world, proof) in REASONS | {VALID}


@pytest.mark.parametrize("method", [method.name for method in SERVICE.methods])
def test_servicer_never_answers_internal_or_unknown(
    rig: Rig, world: InProcess, method: str
) -> None:
    @BOUNDED
    @given(request=requests_for(method, world.materials))
    def run(request: object) -> None:
        assert rig.call(method, request) not in SERVER_FAULTS  # type: ignore[arg-type]

    run()


@BOUNDED
@given(data=st.data())
def test_ext_authz_answers_every_check_with_a_decision(
    world: InProcess, data: st.DataObject
) -> None:
    settings = ExtAuthzSettings(trust_xfcc=data.draw(st.booleans()))
    service = ExtAuthz(world.verifier(), settings)
    request = data.draw(check_requests(world.materials))
    response = check_response(service.check(http_check(request)))
    assert response.status.code in DECISIONS
    assert response.status.code == code_pb2.OK or response.status.message in REASONS
