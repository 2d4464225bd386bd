"""examples/envoy/envoy.yaml is an Envoy v3 Bootstrap that wires ext_authz to spiffebind.

Parsed strictly into the xds-protos ``Bootstrap`` (unknown fields and unresolvable ``@type``s
fail), then checked for the settings the integration depends on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

# Imported for their descriptors: every typed_config's @type must resolve.
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2  # noqa: F401
from google.protobuf import json_format

from spiffebind.service.ext_authz_routes import route_from_context

EXAMPLE = Path(__file__).parents[3] / "examples" / "envoy" / "envoy.yaml"
EXT_AUTHZ = "envoy.filters.http.ext_authz"


def _unpack(any_message: Any, cls: Any) -> Any:
    message = cls()
    assert any_message.Unpack(message), f"{any_message.type_url} is not {cls.__name__}"
    return message


@pytest.fixture(scope="module")
def bootstrap() -> Any:
    return json_format.ParseDict(yaml.safe_load(EXAMPLE.read_text()), bootstrap_pb2.Bootstrap())


@pytest.fixture(scope="module")
def chain(bootstrap: Any) -> Any:
    (listener,) = bootstrap.static_resources.listeners
    (filter_chain,) = listener.filter_chains
    return filter_chain


@pytest.fixture(scope="module")
def hcm(chain: Any) -> Any:
    (network_filter,) = chain.filters
    return _unpack(network_filter.typed_config, hcm_pb2.HttpConnectionManager)


def _cluster(bootstrap: Any, name: str) -> Any:
    (cluster,) = [c for c in bootstrap.static_resources.clusters if c.name == name]
    return cluster


def _pipe(cluster: Any) -> str:
    (endpoint,) = cluster.load_assignment.endpoints[0].lb_endpoints
    return str(endpoint.endpoint.address.pipe.path)


def test_listener_requires_client_certificates_from_spire_sds(bootstrap: Any, chain: Any) -> None:
    tls = _unpack(chain.transport_socket.typed_config, tls_pb2.DownstreamTlsContext)
    assert tls.require_client_certificate.value
    common = tls.common_tls_context
    sds = [common.tls_certificate_sds_secret_configs[0].sds_config]
    sds.append(common.combined_validation_context.validation_context_sds_secret_config.sds_config)
    for config in sds:
        assert config.api_config_source.grpc_services[0].envoy_grpc.cluster_name == "spire_agent"
    assert _pipe(_cluster(bootstrap, "spire_agent")).endswith("agent.sock")


def test_ext_authz_filter_sends_the_peer_certificate_to_spiffebind(
    bootstrap: Any, hcm: Any
) -> None:
    assert [f.name for f in hcm.http_filters] == [EXT_AUTHZ, "envoy.filters.http.router"]
    authz = _unpack(hcm.http_filters[0].typed_config, ext_authz_pb2.ExtAuthz)
    assert authz.include_peer_certificate
    assert not authz.failure_mode_allow
    cluster = authz.grpc_service.envoy_grpc.cluster_name
    assert _pipe(_cluster(bootstrap, cluster)) == "/run/spiffebind/ext-authz.sock"
    assert hcm.normalize_path.value
    assert hcm.merge_slashes
    assert hcm.strip_trailing_host_dot
    assert hcm.path_with_escaped_slashes_action == hcm_pb2.HttpConnectionManager.REJECT_REQUEST
    assert hcm.forward_client_cert_details == hcm_pb2.HttpConnectionManager.SANITIZE


def test_route_context_extensions_are_ones_spiffebind_accepts(hcm: Any) -> None:
    checked = 0
    for route in hcm.route_config.virtual_hosts[0].routes:
        if EXT_AUTHZ not in route.typed_per_filter_config:
            continue
        per_route = _unpack(
            route.typed_per_filter_config[EXT_AUTHZ], ext_authz_pb2.ExtAuthzPerRoute
        )
        if per_route.disabled:
            continue
        route_from_context(dict(per_route.check_settings.context_extensions))
        checked += 1
    assert checked == 2


def test_an_unknown_field_would_be_refused() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["static_resources"]["clusters"][0]["conect_timeout"] = "1s"
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(data, bootstrap_pb2.Bootstrap())
