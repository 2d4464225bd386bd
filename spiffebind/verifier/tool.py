"""The verifier a tool runs in its own process: the daemon's checks, no socket round trip.

Verification is :class:`spiffebind.token.Verifier`, the one implementation ``VerifyToken``
runs, so the ordered checks and reason codes cannot drift apart. What the daemon holds that
a tool does not (bundles, revocations) comes from where the daemon gets it: the Workload API
or spiffe-helper files for bundles (rotation followed), the daemon's ``WatchRevocations``
for revocations (:class:`RevocationMirror`). Runtime policy (step 15) is optional: a tool that
can read the daemon's policy file passes it as ``policy``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, Self

from cryptography import x509

from spiffebind.clock import SystemClock
from spiffebind.errors import ConfigError
from spiffebind.identity import FileSource, WorkloadApiSource
from spiffebind.service.ext_authz_credentials import Presented, verify_presented
from spiffebind.spiffeid import IdPattern
from spiffebind.token import (
    BundleSource,
    Clock,
    PolicyCheck,
    VerifiedToken,
    Verifier,
    VerifierSettings,
)
from spiffebind.token.dpop import DEFAULT_WINDOW, DpopRequest
from spiffebind.verifier.mirror import RevocationMirror

DEFAULT_STALE_AFTER = 30.0
_SYSTEM_CLOCK = SystemClock()


class _Closeable(Protocol):
    def close(self) -> None: ...


def issuer_patterns(issuers: Sequence[str | IdPattern]) -> tuple[IdPattern, ...]:
    """Issuer patterns from strings (``spiffe://example.org/spiffebind/*``) or patterns."""
    try:
        return tuple(i if isinstance(i, IdPattern) else IdPattern.parse(i) for i in issuers)
    except ValueError as exc:
        raise ConfigError(f"issuer pattern: {exc}") from None


class ToolVerifier:
    """Verifies bound tokens for one audience (this tool); thread-safe, caches warm per token.

    ``revocations`` None turns revocation off (offline verification, documented as such);
    otherwise a mirror that is not in contact makes every verification fail with
    ``revocation_unavailable``.
    """

    def __init__(
        self,
        *,
        audience: str,
        issuers: Sequence[str | IdPattern],
        bundles: BundleSource,
        revocations: RevocationMirror | None,
        policy: PolicyCheck | None = None,
        clock: Clock = _SYSTEM_CLOCK,
        clock_skew: int = 30,
        max_lifetime: int = 3600,
        dpop_window: int = DEFAULT_WINDOW,
        owned: Sequence[_Closeable] = (),
    ) -> None:
        if not audience:
            raise ConfigError("a tool verifier needs its own audience")
        self.audience = audience
        self.revocations = revocations
        self._owned = tuple(owned)
        self._verifier = Verifier(
            VerifierSettings(
                issuer_patterns(issuers), clock_skew=clock_skew, max_lifetime=max_lifetime
            ),
            bundles=bundles,
            clock=clock,
            revocation=revocations,
            feed=revocations,
            policy=policy,
        )

    def verify(
        self,
        token: str,
        presented: Presented | DpopRequest | Sequence[x509.Certificate],
        *,
        scopes: Sequence[str] = (),
        detail_types: Sequence[str] = (),
    ) -> VerifiedToken:
        """Every check for ``token`` held by ``presented``: the TLS chain (leaf first), a
        trusted proxy's :class:`Presented`, or a DPoP proof with the request it came with
        (:class:`DpopRequest`, RFC 9449); TokenRejected with the first failing reason."""
        held = (
            presented
            if isinstance(presented, Presented | DpopRequest)
            else Presented(chain=tuple(presented))
        )
        return verify_presented(
            self._verifier,
            token,
            audience=self.audience,
            presented=held,
            scopes=scopes,
            detail_types=detail_types,
        )

    def close(self) -> None:
        for part in self._owned:
            part.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _mirror(daemon_socket: str | Path | None, stale_after: float | None) -> RevocationMirror | None:
    if stale_after is None:
        return None
    mirror = RevocationMirror(daemon_socket, stale_after=stale_after)
    mirror.start()
    return mirror


def from_workload_api(
    audience: str,
    *,
    issuers: Sequence[str | IdPattern],
    endpoint: str | None = None,
    daemon_socket: str | Path | None = None,
    stale_after: float | None = DEFAULT_STALE_AFTER,
    timeout: float = 30.0,
) -> ToolVerifier:
    """Bundles from the Workload API (``endpoint`` or ``SPIFFE_ENDPOINT_SOCKET``), revocations
    from the daemon on ``daemon_socket`` (or ``SPIFFEBIND_ENDPOINT_SOCKET``); ``stale_after``
    None turns revocation off. Waits up to ``timeout`` for the first bundles."""
    where = endpoint or os.environ.get("SPIFFE_ENDPOINT_SOCKET")
    if not where:
        raise ConfigError("no Workload API endpoint: pass endpoint= or set SPIFFE_ENDPOINT_SOCKET")
    source = WorkloadApiSource(where)
    source.start()
    try:
        source.wait_ready(timeout)
    except BaseException:
        source.close()
        raise
    mirror = _mirror(daemon_socket, stale_after)
    owned: list[_Closeable] = [p for p in (mirror, source) if p is not None]
    return ToolVerifier(
        audience=audience, issuers=issuers, bundles=source, revocations=mirror, owned=owned
    )


def from_files(
    audience: str,
    *,
    issuers: Sequence[str | IdPattern],
    svid: Path,
    key: Path,
    bundles: Mapping[str, Path],
    daemon_socket: str | Path | None = None,
    stale_after: float | None = DEFAULT_STALE_AFTER,
) -> ToolVerifier:
    """Bundles from spiffe-helper style files (reloaded when they change); otherwise as
    :func:`from_workload_api`."""
    source = FileSource(svid, key, bundles)
    source.start()
    mirror = _mirror(daemon_socket, stale_after)
    owned: list[_Closeable] = [p for p in (mirror, source) if p is not None]
    return ToolVerifier(
        audience=audience, issuers=issuers, bundles=source, revocations=mirror, owned=owned
    )
