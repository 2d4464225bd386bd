"""The daemon's settings: one frozen object, built once from flags > env > file > defaults.

Click resolves the precedence itself (the config file becomes its ``default_map``); this
module only reads the file strictly and turns resolved values into typed settings, so every
bad value fails at start-up with one line naming the setting.
"""

from __future__ import annotations

import grp
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spiffebind.cluster.settings import ClusterSettings
from spiffebind.errors import ConfigError
from spiffebind.service.ext_authz_routes import ExtAuthzSettings
from spiffebind.spiffeid import IdPattern, parse_spiffe_id, parse_trust_domain
from spiffebind.upstream.settings import UpstreamIssuer

DEFAULT_SOCKET = Path("/run/spiffebind/api.sock")
DEFAULT_STATE_DIR = Path("/var/lib/spiffebind")
FILE_ONLY_KEYS = ("ext_authz_routes", "upstream_issuers")
"""Config-file keys with no flag: structured values a command line cannot carry."""


@dataclass(frozen=True)
class FileIdentity:
    """spiffe-helper style files: the SVID chain, its key, and one bundle per trust domain."""

    svid: Path
    svid_key: Path
    bundles: Mapping[str, Path]


@dataclass(frozen=True)
class DaemonConfig:
    """Everything ``spiffebind run`` needs; immutable so reloads swap whole objects."""

    socket: Path = DEFAULT_SOCKET
    socket_mode: int = 0o666
    workload_api: str | None = None
    spiffe_id: str | None = None
    files: FileIdentity | None = None
    issuers: tuple[IdPattern, ...] = ()
    admins: tuple[IdPattern, ...] = ()
    policy: Path | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    metrics_address: tuple[str, int] | None = None
    audit_log: str | None = None
    audit_required: bool = False
    default_ttl: int = 300
    max_ttl: int = 3600
    clock_skew: int = 30
    request_window: int = 60
    grace_seconds: float = 5.0
    ext_authz_socket: Path | None = None
    ext_authz_socket_mode: int = 0o660
    ext_authz_socket_group: int | None = None
    ext_authz: ExtAuthzSettings = field(default_factory=ExtAuthzSettings)
    upstream_issuers: tuple[UpstreamIssuer, ...] = ()
    cluster: ClusterSettings | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def read_config_file(path: Path, allowed: Iterable[str]) -> dict[str, Any]:
    """The YAML mapping in ``path``, keys normalised to option names; unknown keys refused."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping")
    known = set(allowed)
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        out[name] = value
    return out


def parse_bundle_args(values: Iterable[str]) -> dict[str, Path]:
    """``TD=PEM`` pairs into a mapping of trust-domain name to file."""
    bundles: dict[str, Path] = {}
    for item in values:
        td, sep, pem = item.partition("=")
        if not sep or not pem:
            raise ConfigError(f"--bundle {item!r}: expected TRUST_DOMAIN=PEM_FILE")
        try:
            bundles[parse_trust_domain(td)] = Path(pem)
        except ValueError as exc:
            raise ConfigError(f"--bundle {item!r}: {exc}") from None
    return bundles


def parse_mode(option: str, value: object) -> int:
    """An octal file mode such as ``0660``."""
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise ConfigError(f"{option} {value!r}: expected octal, e.g. 0660") from None
    if not 0 <= mode <= 0o777:
        raise ConfigError(f"{option} {value!r}: expected permission bits, at most 0777")
    return mode


def parse_group(option: str, value: object) -> int | None:
    """A group by name or number, resolved once at start-up."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ConfigError(f"{option} {text!r}: no such group") from None


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) into a pair, ConfigError otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--metrics-address {value!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_patterns(option: str, values: Iterable[str]) -> tuple[IdPattern, ...]:
    """Parse ID patterns, naming the option in the error."""
    try:
        return tuple(IdPattern.parse(v) for v in values)
    except ConfigError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def parse_id(option: str, value: str | None) -> str | None:
    """An optional SPIFFE ID setting, checked strictly."""
    if value is None:
        return None
    try:
        return parse_spiffe_id(value)
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r}: {exc}") from None


def file_identity(
    svid: Path | None, svid_key: Path | None, bundles: Mapping[str, Path]
) -> FileIdentity | None:
    """The file identity when ``--svid`` is given; all three parts are then required."""
    if svid is None and svid_key is None and not bundles:
        return None
    if svid is None or svid_key is None or not bundles:
        raise ConfigError("--svid, --svid-key and at least one --bundle go together")
    return FileIdentity(svid, svid_key, dict(bundles))


def workload_api_endpoint(value: str | None) -> str:
    """The Workload API endpoint, from the option or ``SPIFFE_ENDPOINT_SOCKET``."""
    endpoint = value or os.environ.get("SPIFFE_ENDPOINT_SOCKET")
    if not endpoint:
        raise ConfigError(
            "no identity source: give --workload-api (or SPIFFE_ENDPOINT_SOCKET) or --svid files"
        )
    return endpoint


def check_ttls(default_ttl: int, max_ttl: int, clock_skew: int) -> None:
    """Refuse lifetimes that contradict each other before anything starts."""
    if default_ttl <= 0 or max_ttl <= 0:
        raise ConfigError("--default-ttl and --max-ttl must be positive")
    if default_ttl > max_ttl:
        raise ConfigError(f"--default-ttl {default_ttl} exceeds --max-ttl {max_ttl}")
    if not 0 <= clock_skew <= 300:
        raise ConfigError("--clock-skew must be between 0 and 300 seconds")
