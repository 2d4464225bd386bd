"""A few fuzzed request messages of every RPC, and of Envoy's Check, sent to the real daemon
over its sockets.

In-process, tests/security/test_fuzz_api.py runs many more against the same servicer; this
checks what only a real server shows: serialization over the wire, the status and trailing
metadata it sends, and that it is still serving afterwards.
"""

from __future__ import annotations

import pytest
from daemonattacks import SERVER_FAULTS, AuthzStub, Stub, status_of
from hypothesis import HealthCheck, given, settings

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.testing.attacks import Materials
from spiffebind.testing.attacks.fuzzing import SERVICE, check_requests, requests_for

pytestmark = pytest.mark.integration

FEW = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("method", [method.name for method in SERVICE.methods])
def test_daemon_never_answers_internal_or_unknown(
    real_world: Materials, sec_stub: Stub, method: str
) -> None:
    @FEW
    @given(request=requests_for(method, real_world))
    def run(request: object) -> None:
        code, reason = status_of(lambda: getattr(sec_stub, method)(request, timeout=10))
        assert code not in SERVER_FAULTS, reason

    run()
    assert sec_stub.GetInfo(pb.GetInfoRequest(), timeout=10).ready


def test_ext_authz_never_answers_internal_or_unknown(
    real_world: Materials, sec_stub: Stub, sec_authz: AuthzStub
) -> None:
    @FEW
    @given(request=check_requests(real_world))
    def run(request: object) -> None:
        code, reason = status_of(lambda: sec_authz.Check(request, timeout=10))
        assert code not in SERVER_FAULTS, reason

    run()
    assert sec_stub.GetInfo(pb.GetInfoRequest(), timeout=10).ready
