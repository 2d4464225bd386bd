"""The SPIFFE Workload API as an identity source: py-spiffe streams under our own supervisor.

py-spiffe 0.3.2 alone is not enough for a daemon: its watcher thread ends for good on
CANCELLED, INVALID_ARGUMENT, a malformed message or an exception in a callback, and its
client cannot even be built while the agent's socket is missing. So every stream runs with
``retry_connect=False`` inside a supervisor that treats any end as "reconnect later": it
waits for the socket, builds a fresh client (a fresh channel, free of gRPC's own reconnect
backoff, which grows to two minutes), and backs off with jitter between attempts. The last
good SVID and bundles stay served until the SVID expires.

Whoever watches the connection itself (the daemon's metrics) passes ``on_stream``: plain
events, so this package stays free of any metrics library.
"""

from __future__ import annotations

import random
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from spiffe import JwtBundleSet, WorkloadApiClient, X509BundleSet
from spiffe.errors import PySpiffeError
from spiffe.workloadapi.workload_api_client import StreamCancelHandler
from spiffe.workloadapi.x509_context import X509Context

from spiffebind.clock import SYSTEM_CLOCK, Clock
from spiffebind.errors import ConfigError
from spiffebind.identity.source import BaseSource, Identity, JwtBundles, X509Bundles

T = TypeVar("T")
STREAMS = ("x509", "jwt_bundles")
"""The streams a source keeps open, by the names ``on_stream`` and health reasons use."""

StreamListener = Callable[[str, bool], None]
"""Told ``(stream, True)`` when a (re)connected stream delivers its first message and
``(stream, False)`` when a stream that delivered ends; runs on the stream's thread."""
Watch = Callable[
    [WorkloadApiClient, Callable[[T], None], Callable[[Exception], None]], StreamCancelHandler
]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with equal jitter, so many daemons do not reconnect in step."""

    initial: float = 0.2
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        cap = min(self.maximum, self.initial * 2 ** min(attempt, 32))
        return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not a secret


def endpoint_path(endpoint: str) -> Path:
    """The socket path of a ``unix:///abs/path`` (or ``unix:/abs/path``) endpoint.

    ConfigError names the endpoint, so a typo fails start-up instead of retrying forever.
    """
    rest = endpoint.removeprefix("unix:")
    if rest.startswith("//"):
        rest = rest[2:]
    if rest == endpoint or not rest.startswith("/") or any(c in rest for c in "?#"):
        raise ConfigError(f"Workload API endpoint {endpoint!r} is not unix:///absolute/path")
    return Path(rest)


def socket_path(endpoint: str) -> Path:
    """:func:`endpoint_path`, checked to be a socket now (for one-shot commands)."""
    path = endpoint_path(endpoint)
    _check_socket(path)
    return path


def _check_socket(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"Workload API socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"Workload API socket {path} is not a Unix socket")


def _not_a_socket(path: Path) -> bool:
    """Something other than a socket is there: a mistake, not an agent still starting."""
    try:
        return not stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


class WorkloadApiSource(BaseSource):
    """The daemon's identity from the Workload API; ``start()`` opens the streams.

    A socket that is not there yet is waited for (not ready, with the reason): at node boot
    the daemon often starts before the SPIRE agent. Only a malformed endpoint, or a path
    that holds something other than a socket, is a ConfigError.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff = Backoff(),
        on_stream: StreamListener | None = None,
        spiffe_id: str | None = None,
    ) -> None:
        super().__init__(clock)
        path = endpoint_path(endpoint)
        if _not_a_socket(path):
            raise ConfigError(f"Workload API socket {path} is not a Unix socket")
        self._wanted = spiffe_id
        self._merge = threading.Lock()
        self._jwt_bundles: JwtBundles = {}
        watches: tuple[tuple[Watch[Any], Callable[[Any], None]], ...] = (
            (_watch_x509, self._on_x509),
            (_watch_jwt, self._on_jwt),
        )
        self._streams = [
            _Supervisor(
                name,
                path=path,
                backoff=backoff,
                watch=w,
                handle=h,
                report=self._report,
                listen=on_stream or _ignore,
            )
            for name, (w, h) in zip(STREAMS, watches, strict=True)
        ]

    def start(self) -> None:
        for stream in self._streams:
            stream.start()

    def close(self) -> None:
        for stream in self._streams:
            stream.stop()

    def _on_x509(self, context: X509Context) -> None:
        """Take the wanted SVID (or the agent's default, the first) when a workload has several."""
        svid = next(
            (s for s in context.x509_svids if self._wanted in (None, str(s.spiffe_id))), None
        )
        if svid is None:
            served = ", ".join(str(s.spiffe_id) for s in context.x509_svids)
            self._report("svid", f"the Workload API serves no SVID {self._wanted} (only {served})")
            return
        self._report("svid", None)
        with self._merge:
            self._publish(
                Identity(
                    chain=tuple(svid.cert_chain),
                    private_key=svid.private_key,
                    x509_bundles=_x509_bundles(context.x509_bundle_set),
                    jwt_bundles=self._jwt_bundles,
                )
            )

    def _on_jwt(self, bundle_set: JwtBundleSet) -> None:
        with self._merge:
            self._jwt_bundles = {b.trust_domain.name: b.jwt_authorities for b in bundle_set.bundles}
            held = self._held()
            if held is not None:
                self._publish(replace(held, jwt_bundles=self._jwt_bundles))


class _Supervisor(Generic[T]):
    """Keeps one Workload API stream open for as long as the source lives."""

    def __init__(
        self,
        name: str,
        *,
        path: Path,
        backoff: Backoff,
        watch: Watch[T],
        handle: Callable[[T], None],
        report: Callable[[str, str | None], None],
        listen: StreamListener,
    ) -> None:
        self._name, self._path, self._backoff = name, path, backoff
        self._watch, self._handle, self._report = watch, handle, report
        self._listen = listen
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"spiffebind-{name}", daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            received, why = self._session()
            if received:
                self._listen(self._name, False)
            if self._stopped.is_set():
                return
            attempt = 0 if received else attempt + 1
            self._report(self._name, why)
            self._stopped.wait(self._backoff.delay(attempt))

    def _session(self) -> tuple[bool, str]:
        """One stream from connect to its end: whether anything arrived, and why it ended."""
        try:
            _check_socket(self._path)
            client = WorkloadApiClient(socket_path=f"unix://{self._path}")
        except (ConfigError, PySpiffeError) as exc:
            return False, f"waiting for the agent: {exc}"
        received = threading.Event()
        ended: list[str] = []

        def on_success(message: T) -> None:
            self._handle(message)
            if not received.is_set():
                received.set()
                self._listen(self._name, True)
            self._report(self._name, None)

        def on_error(exc: Exception) -> None:
            ended.append(str(exc) or type(exc).__name__)
            self._wake.set()

        self._wake.clear()
        if self._stopped.is_set():
            client.close()
            return False, "stopped"
        handler = self._watch(client, on_success, on_error)
        try:
            self._wake.wait()
        finally:
            handler.cancel()
            client.close()
        return received.is_set(), ended[0] if ended else "stopped"


def _watch_x509(
    client: WorkloadApiClient,
    on_success: Callable[[X509Context], None],
    on_error: Callable[[Exception], None],
) -> StreamCancelHandler:
    return client.stream_x509_contexts(on_success, on_error, retry_connect=False)


def _watch_jwt(
    client: WorkloadApiClient,
    on_success: Callable[[JwtBundleSet], None],
    on_error: Callable[[Exception], None],
) -> StreamCancelHandler:
    return client.stream_jwt_bundles(on_success, on_error, retry_connect=False)


def _ignore(stream: str, up: bool) -> None:
    """The default listener: nobody watches the connection."""


def _x509_bundles(bundle_set: X509BundleSet) -> X509Bundles:
    """Authorities per trust-domain name, in a stable order (py-spiffe keeps them in a set)."""
    der = serialization.Encoding.DER
    return {
        b.trust_domain.name: tuple(sorted(b.x509_authorities, key=lambda c: c.public_bytes(der)))
        for b in bundle_set.bundles
    }
