"""``envoy.service.auth.v3.Authorization`` on its own Unix socket, for Envoy's ext_authz filter.

A thin servicer: map the message, let :class:`ExtAuthz` decide, report the decision once, map
the answer. It has a socket of its own so that Envoy's access (file mode, mount) is granted
separately from the token API's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from envoy.service.auth.v3 import external_auth_pb2_grpc

from spiffebind.api.admission import Admission
from spiffebind.api.errors import translated
from spiffebind.api.ext_authz_map import check_response, http_check
from spiffebind.api.pipeline import Layer, Registry
from spiffebind.api.server import Listener, SocketServer, bounded_server
from spiffebind.api.tls import svid_credentials
from spiffebind.errors import ConfigError
from spiffebind.identity.source import Identity, IdentitySource
from spiffebind.observe.decisions import CallContext, Decisions
from spiffebind.service.ext_authz import ExtAuthz

Context = grpc.aio.ServicerContext[Any, Any]


class ExtAuthzServicer:
    """Duck-typed servicer: the generated base class is untyped, so we do not inherit it."""

    def __init__(self, authz: ExtAuthz, decisions: Decisions) -> None:
        self._authz = authz
        self._decisions = decisions

    @translated
    async def Check(self, request: Any, context: Context) -> Any:
        start = time.perf_counter()
        check = http_check(request)
        verdict = self._authz.check(check)
        call = CallContext(
            method=check.method,
            path=check.path.partition("?")[0],
            tool=verdict.route.tool if verdict.route else "",
        )
        self._decisions.ext_authz(
            verdict.outcome, call, verdict.presenter_x5t, time.perf_counter() - start
        )
        return check_response(verdict)


class ExtAuthzServer(SocketServer):
    """Envoy's Authorization service on its own socket."""

    def __init__(
        self,
        listener: Listener,
        servicer: ExtAuthzServicer,
        layers: Sequence[Layer] = (),
    ) -> None:
        super().__init__(listener, layers)
        self._servicer = servicer

    def _register(self, registry: Registry) -> None:
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(self._servicer, registry.server)


class ExtAuthzTcpServer:
    """Envoy's Authorization service on a TCP address, where meshes expect an external
    authorizer (Istio's CUSTOM provider, Envoy Gateway): mutual TLS with the daemon's SVID
    (:mod:`spiffebind.api.tls`), or plaintext when ``tls`` is None (loopback only; the
    configuration refuses it elsewhere)."""

    def __init__(
        self,
        address: tuple[str, int],
        servicer: ExtAuthzServicer,
        tls: tuple[IdentitySource, Identity] | None,
        layers: Sequence[Layer] = (),
    ) -> None:
        self._address = address
        self._servicer = servicer
        self._tls = tls
        self._layers = tuple(layers)
        self._server: grpc.aio.Server | None = None

    def _register(self, registry: Registry) -> None:
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(self._servicer, registry.server)

    async def start(self) -> int:
        """Listen; returns the bound port (the one asked for, or the kernel's pick for 0)."""
        host, port = self._address
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        server = bounded_server(Admission(), self._register, self._layers)
        try:
            if self._tls is None:
                bound = server.add_insecure_port(target)
            else:
                bound = server.add_secure_port(target, svid_credentials(*self._tls))
        except RuntimeError:  # grpc's only word for it: the address is taken or not ours
            raise ConfigError(f"--ext-authz-address {target}: cannot listen there") from None
        await server.start()
        self._server = server
        return bound

    async def stop(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
