"""A fake SPIFFE Workload API: a real gRPC server on a temporary Unix socket.

Code under test talks to it exactly as to a SPIRE agent (py-spiffe included), while the test
decides what the "agent" says: SVIDs and bundles from :mod:`spiffebind.testing.pki`,
rotations, failures, streams that just end, and an agent that goes away and comes back on
the same path::

    ca = Authority.root("example.org")
    with FakeWorkloadApi() as api:
        api.set_x509(ca.issue("spiffe://example.org/app"), bundle=[ca.root_cert])
        source = WorkloadApiSource(api.endpoint)            # unix:///tmp/sb.../agent.sock
        api.set_x509(ca.issue("spiffe://example.org/app"), bundle=[ca.root_cert])  # rotate
        api.fail(grpc.StatusCode.PERMISSION_DENIED)         # as when the entry is deleted
        api.restart()                                       # agent restart, same socket

Like SPIRE it answers PERMISSION_DENIED "no identity issued" while it has no SVID, and
INVALID_ARGUMENT to calls without the ``workload.spiffe.io`` header. It uses py-spiffe's
generated code, never a second copy of ``workload.proto``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any, Self

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from spiffe._proto import workload_pb2, workload_pb2_grpc

from spiffebind.spiffeid import trust_domain_of
from spiffebind.testing.pki import Issued

Message = (
    workload_pb2.X509SVIDResponse
    | workload_pb2.X509BundlesResponse
    | workload_pb2.JWTBundlesResponse
)
_NOTHING_SENT = object()


class FakeWorkloadApi:
    """The server and the state it serves; every setter reaches open streams at once."""

    def __init__(self, directory: Path | None = None) -> None:
        self._own_dir = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
        self.socket_path = self.directory / "agent.sock"
        self._cond = threading.Condition()
        self._x509: workload_pb2.X509SVIDResponse | None = None
        self._bundles: workload_pb2.X509BundlesResponse | None = None
        self._jwt: workload_pb2.JWTBundlesResponse | None = None
        self._failure: tuple[grpc.StatusCode, str] | None = None
        self._epoch = 0
        self._open = 0
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        """The ``unix:///...`` URI for SPIFFE_ENDPOINT_SOCKET or a source's endpoint argument."""
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        workload_pb2_grpc.add_SpiffeWorkloadAPIServicer_to_server(_Servicer(self), server)  # type: ignore[no-untyped-call]
        server.add_insecure_port(f"unix:{self.socket_path}")
        server.start()
        self._server = server

    def stop(self) -> None:
        """Stop serving; open streams fail as they do when an agent dies. The socket goes away."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        self.socket_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_x509(
        self,
        svid: Issued,
        bundle: Sequence[x509.Certificate],
        *,
        federated: Mapping[str, Sequence[x509.Certificate]] | None = None,
        spiffe_id: str | None = None,
        also: Sequence[Issued] = (),
    ) -> None:
        """Serve ``svid`` with its trust domain's ``bundle`` (and federated bundles by td name);
        ``also`` are further SVIDs of the same workload, served after it, as SPIRE does when
        several registration entries match."""
        sid = spiffe_id or _uri_san(svid.cert)
        others = {f"spiffe://{td}": _der(certs) for td, certs in (federated or {}).items()}
        served = [(sid, svid), *((_uri_san(extra.cert), extra) for extra in also)]
        response = workload_pb2.X509SVIDResponse(
            svids=[
                workload_pb2.X509SVID(
                    spiffe_id=name,
                    x509_svid=issued.chain_der(),
                    x509_svid_key=issued.key_der(),
                    bundle=_der(bundle),
                )
                for name, issued in served
            ],
            federated_bundles=others,
        )
        bundles = {f"spiffe://{trust_domain_of(sid)}": _der(bundle), **others}
        self._update(x509=response, bundles=workload_pb2.X509BundlesResponse(bundles=bundles))

    def set_jwt_bundles(self, bundles: Mapping[str, Mapping[str, PublicKeyTypes]]) -> None:
        """Serve JWKS documents: trust-domain name to ``kid`` to public key."""
        encoded = {
            f"spiffe://{td}": json.dumps({"keys": [_jwk(k, v) for k, v in keys.items()]}).encode()
            for td, keys in bundles.items()
        }
        self._update(jwt=workload_pb2.JWTBundlesResponse(bundles=encoded))

    def fail(self, code: grpc.StatusCode, details: str = "injected failure") -> None:
        """End open streams with ``code`` and refuse new calls with it until :meth:`recover`."""
        self._update(failure=(code, details))

    def recover(self) -> None:
        self._update(failure=None)

    def end_streams(self) -> None:
        """Finish every open stream normally (EOF); new streams are served as usual."""
        with self._cond:
            self._epoch += 1
            self._cond.notify_all()

    def wait_for_streams(self, count: int, timeout: float = 10.0) -> None:
        """Block until at least ``count`` streams are open (clients connected or reconnected)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._open >= count, timeout):
                raise TimeoutError(f"{self._open} open streams after {timeout}s, wanted {count}")

    def _update(self, **changes: Any) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            self._cond.notify_all()

    def _serve(
        self, context: grpc.ServicerContext, current: Callable[[], Message | None]
    ) -> Iterator[Any]:
        """One server stream: the current message now and after every change, until told to end."""
        if dict(context.invocation_metadata()).get("workload.spiffe.io") != "true":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
        context.add_callback(self._wake)
        with self._cond:
            epoch = self._epoch
            self._open += 1
            self._cond.notify_all()
        sent: object = _NOTHING_SENT
        try:
            while True:
                with self._cond:
                    while not self._has_news(context, epoch, current, sent):
                        self._cond.wait()
                    if not context.is_active() or self._epoch != epoch:
                        return
                    failure, message = self._failure, current()
                if failure is not None:
                    context.abort(*failure)
                if message is None:
                    context.abort(grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
                sent = message
                yield message
        finally:
            with self._cond:
                self._open -= 1

    def _has_news(
        self,
        context: grpc.ServicerContext,
        epoch: int,
        current: Callable[[], Message | None],
        sent: object,
    ) -> bool:
        """Whether a stream has something to do; the caller holds ``_cond``."""
        return (
            not context.is_active()
            or self._epoch != epoch
            or self._failure is not None
            or current() is not sent
        )

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _Servicer(workload_pb2_grpc.SpiffeWorkloadAPIServicer):
    def __init__(self, api: FakeWorkloadApi) -> None:
        self._api = api

    def FetchX509SVID(self, request: object, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._api._serve(context, lambda: self._api._x509)

    def FetchX509Bundles(self, request: object, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._api._serve(context, lambda: self._api._bundles)

    def FetchJWTBundles(self, request: object, context: grpc.ServicerContext) -> Iterator[Any]:
        return self._api._serve(context, lambda: self._api._jwt)


def _der(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)


def _uri_san(cert: x509.Certificate) -> str:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return str(san.get_values_for_type(x509.UniformResourceIdentifier)[0])


def _jwk(kid: str, key: PublicKeyTypes) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        raise TypeError(f"no JWK encoding for {type(key).__name__}")
    return {**jwk, "kid": kid}
