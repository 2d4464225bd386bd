"""The cluster options, defined together so they move as one block (docs/cluster.md).

No ``--cluster-url`` means node-local mode: ``cluster_settings`` returns None and the daemon
behaves exactly as without this package.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spiffebind.errors import ConfigError

DEFAULT_BUCKET = "spiffebind-revocations"
_BUCKET = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCHEMES = ("nats", "tls")


@dataclass(frozen=True)
class ClusterSettings:
    """Where the shared revocation bucket is and how this daemon treats it."""

    urls: tuple[str, ...]
    bucket: str = DEFAULT_BUCKET
    replicas: int = 1
    tls: bool = False
    ca: Path | None = None
    creds: Path | None = None
    stale_after: float = 30.0
    fail_open: bool = False
    ack_timeout: float = 2.0


def _url(value: str) -> str:
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--cluster-url {value!r}: {exc}") from None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None:
        raise ConfigError(f"--cluster-url {value!r}: expected nats://HOST:PORT or tls://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"--cluster-url {value!r}: a server URL has no path or query")
    return value


def _readable(option: str, path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{option} {path}: {exc.strerror or exc}") from None
    return path


def cluster_settings(
    *,
    urls: Iterable[str],
    bucket: str,
    replicas: int,
    tls: bool,
    ca: Path | None,
    creds: Path | None,
    stale_after: float,
    fail_open: bool,
    ack_timeout: float,
) -> ClusterSettings | None:
    """Typed, checked settings from the resolved option values; ConfigError names the bad one."""
    checked = tuple(_url(u) for u in urls)
    if not checked:
        return None
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"--cluster-bucket {bucket!r}: letters, digits, - and _ only")
    if not 1 <= replicas <= 5:
        raise ConfigError("--cluster-replicas must be between 1 and 5 (JetStream's limit)")
    if not stale_after > 0 or not ack_timeout > 0:
        raise ConfigError("--cluster-stale-after and --cluster-ack-timeout must be positive")
    if ca is not None and not tls:
        raise ConfigError("--cluster-ca needs --cluster-tls")
    return ClusterSettings(
        urls=checked,
        bucket=bucket,
        replicas=replicas,
        tls=tls or any(u.startswith("tls://") for u in checked),
        ca=_readable("--cluster-ca", ca),
        creds=_readable("--cluster-creds", creds),
        stale_after=stale_after,
        fail_open=fail_open,
        ack_timeout=ack_timeout,
    )
