"""The fake Workload API speaks like a SPIRE agent to a plain gRPC client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from spiffe._proto import workload_pb2, workload_pb2_grpc

from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority

HEADER = (("workload.spiffe.io", "true"),)


@pytest.fixture
def api() -> Iterator[FakeWorkloadApi]:
    with FakeWorkloadApi() as server:
        yield server


@pytest.fixture
def stub(api: FakeWorkloadApi) -> Iterator[Any]:
    with grpc.insecure_channel(f"unix:{api.socket_path}") as channel:
        yield workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)


def first(call: Iterator[Any]) -> Any:
    return next(iter(call))


def test_missing_security_header_is_invalid_argument(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as err:
        first(stub.FetchX509SVID(workload_pb2.X509SVIDRequest()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_no_identity_is_permission_denied(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as err:
        first(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), metadata=HEADER))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_serves_svid_bundles_and_federation_keyed_like_spire(
    api: FakeWorkloadApi, stub: Any
) -> None:
    ca, other = Authority.root("example.org"), Authority.root("other.org")
    svid = ca.issue("spiffe://example.org/app")
    api.set_x509(svid, bundle=[ca.root_cert], federated={"other.org": [other.root_cert]})
    api.set_jwt_bundles({"example.org": {"k1": ca.key.public_key()}})

    x509 = first(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), metadata=HEADER))
    bundles = first(stub.FetchX509Bundles(workload_pb2.X509BundlesRequest(), metadata=HEADER))
    jwt = first(stub.FetchJWTBundles(workload_pb2.JWTBundlesRequest(), metadata=HEADER))

    assert x509.svids[0].spiffe_id == "spiffe://example.org/app"
    assert x509.svids[0].x509_svid == svid.chain_der()
    assert set(x509.federated_bundles) == {"spiffe://other.org"}
    assert set(bundles.bundles) == {"spiffe://example.org", "spiffe://other.org"}
    assert json.loads(jwt.bundles["spiffe://example.org"])["keys"][0]["kid"] == "k1"


def test_injected_failure_ends_open_streams(api: FakeWorkloadApi, stub: Any) -> None:
    ca = Authority.root("example.org")
    api.set_x509(ca.issue("spiffe://example.org/app"), bundle=[ca.root_cert])
    stream = iter(stub.FetchX509SVID(workload_pb2.X509SVIDRequest(), metadata=HEADER))
    next(stream)
    api.wait_for_streams(1)

    api.fail(grpc.StatusCode.UNAVAILABLE, "agent going away")

    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
