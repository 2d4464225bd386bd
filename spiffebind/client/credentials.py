"""Where an agent's own X.509-SVID comes from: the Workload API or spiffe-helper files.

The SDK signs every request with this SVID's key, and the daemon binds tokens to its leaf,
so the credentials object is asked afresh for each request: after a rotation, the next
request (and the next token) use the new certificate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from spiffebind.errors import ConfigError, IdentityError
from spiffebind.identity.pem import read_certificates, read_private_key
from spiffebind.identity.source import IdentitySource
from spiffebind.token import SigningIdentity


class Credentials(Protocol):
    def signing(self) -> SigningIdentity:
        """The agent's SVID and key right now (IdentityError when there is none)."""
        ...


class StaticCredentials:
    """A fixed SVID, e.g. read once from files by a short-lived CLI command."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._identity = identity

    def signing(self) -> SigningIdentity:
        return self._identity


class SourceCredentials:
    """Follows a running identity source, so rotations reach the next request."""

    def __init__(self, source: IdentitySource) -> None:
        self._source = source

    def signing(self) -> SigningIdentity:
        return self._source.current().signing


def from_files(svid: Path, key: Path) -> StaticCredentials:
    """The SVID chain and key PEM files; ConfigError names the file at fault."""
    try:
        return StaticCredentials(SigningIdentity(read_certificates(svid), read_private_key(key)))
    except IdentityError as exc:
        raise ConfigError(f"--svid {svid} / --svid-key {key}: {exc}") from None


def from_workload_api(endpoint: str, timeout: float = 10.0) -> StaticCredentials:
    """One X.509-SVID fetched from the Workload API (for one-shot commands)."""
    from spiffe import WorkloadApiClient
    from spiffe.errors import PySpiffeError

    from spiffebind.identity.workload_api import socket_path

    path = socket_path(endpoint)
    try:
        with WorkloadApiClient(socket_path=f"unix://{path}", default_timeout=timeout) as client:
            svid = client.fetch_x509_svid()
    except PySpiffeError as exc:
        raise ConfigError(f"Workload API {endpoint}: {exc}") from None
    try:
        return StaticCredentials(SigningIdentity(tuple(svid.cert_chain), svid.private_key))
    except IdentityError as exc:
        raise ConfigError(f"Workload API {endpoint}: {exc}") from None
