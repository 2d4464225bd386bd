"""The daemon's settings: one frozen object, each field declared once as an option.

Every field below that is declared with :func:`spiffebind.options.option` is a ``spiffebind
run`` flag, an environment variable, a config-file key, a row of docs/cli.md and perhaps a
key of the Helm chart's ``config`` (see :mod:`spiffebind.options` for how to add one). Click
resolves the precedence itself (the config file becomes its ``default_map``); this module
turns resolved values into typed settings, so every bad value fails at start-up with one
line naming the setting.
"""

from __future__ import annotations

import dataclasses
import grp
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from spiffebind.cluster.settings import DEFAULT_BUCKET, ClusterSettings, cluster_settings
from spiffebind.errors import ConfigError
from spiffebind.options import option
from spiffebind.service.ext_authz_routes import ExtAuthzSettings, Route, parse_routes
from spiffebind.spiffeid import IdPattern, parse_spiffe_id, parse_trust_domain
from spiffebind.upstream.settings import UpstreamIssuer, parse_upstream_issuers

DEFAULT_SOCKET = Path("/run/spiffebind/api.sock")
DEFAULT_STATE_DIR = Path("/var/lib/spiffebind")
LOG_LEVELS = ("debug", "info", "warning", "error")
CHART_DESCRIPTION = (
    "spiffebind run options; the chart owns socket, state_dir, metrics_address, policy and "
    "workload_api, and mounts no SVID files or ext_authz socket."
)
_FILE = click.Path(dir_okay=False, path_type=Path)
_PATTERNS = {"$ref": "#/definitions/patterns"}
_SECONDS = {"$ref": "#/definitions/seconds"}


@dataclass(frozen=True)
class FileIdentity:
    """spiffe-helper style files: the SVID chain, its key, and one bundle per trust domain."""

    svid: Path
    svid_key: Path
    bundles: Mapping[str, Path]


def parse_octal(where: str, value: Any) -> int:
    """An octal file mode such as ``0660``: permission bits only."""
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise ConfigError(f"{where} {value!r}: expected octal, e.g. 0660") from None
    if not 0 <= mode <= 0o777:
        raise ConfigError(f"{where} {value!r}: expected permission bits, at most 0777")
    return mode


def parse_group(where: str, value: Any) -> int | None:
    """A group by name or number, resolved once at start-up."""
    text = str(value)
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ConfigError(f"{where} {text!r}: no such group") from None


def parse_dpop_window(where: str, value: Any) -> int:
    """Seconds a DPoP proof's ``iat`` may lie in the past: 1 up to the MCP profile's 300."""
    seconds = int(value)
    if not 1 <= seconds <= 300:
        raise ConfigError(f"{where} {value!r}: must be between 1 and 300 seconds")
    return seconds


def parse_bundle_args(where: str, values: Iterable[str]) -> dict[str, Path]:
    """``TD=PEM`` pairs into a mapping of trust-domain name to file."""
    bundles: dict[str, Path] = {}
    for item in values:
        td, sep, pem = item.partition("=")
        if not sep or not pem:
            raise ConfigError(f"{where} {item!r}: expected TRUST_DOMAIN=PEM_FILE")
        try:
            bundles[parse_trust_domain(td)] = Path(pem)
        except ValueError as exc:
            raise ConfigError(f"{where} {item!r}: {exc}") from None
    return bundles


def parse_address(where: str, value: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) into a pair, ConfigError otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where} {value!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_patterns(where: str, values: Iterable[str]) -> tuple[IdPattern, ...]:
    """Parse ID patterns, naming the option in the error."""
    try:
        return tuple(IdPattern.parse(v) for v in values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_id(where: str, value: str) -> str:
    """A SPIFFE ID setting, checked strictly."""
    try:
        return parse_spiffe_id(value)
    except ValueError as exc:
        raise ConfigError(f"{where} {value!r}: {exc}") from None


def _routes(where: str, value: Any) -> tuple[Route, ...]:
    return parse_routes(value, key=where)


def _upstream_issuers(_where: str, value: Any) -> tuple[UpstreamIssuer, ...]:
    return parse_upstream_issuers(value)


@dataclass(frozen=True)
class DaemonConfig:
    """Everything ``spiffebind run`` needs; immutable so reloads swap whole objects."""

    socket: Path = option(
        DEFAULT_SOCKET,
        metavar="PATH",
        click_type=_FILE,
        help="The API's Unix socket.",
        doc="the API socket; the parent directory is created, a stale socket replaced, a "
        "socket another daemon answers on refused; re-created if removed (below); the path "
        "may be at most 103 bytes, 4 fewer than the kernel's limit because the daemon binds "
        "`PATH.new` first",
    )
    socket_mode: int = option(
        0o666,
        metavar="MODE",
        parse=parse_octal,
        show_default="0666",
        help="File mode of the API socket (requests authenticate by signature).",
        doc="octal file mode of the socket (`0666` by default: every request that grants or "
        "removes authority is signed)",
        chart={"type": "string", "pattern": "^0?[0-7]{3}$"},
    )
    workload_api: str | None = option(
        metavar="URI",
        env_fallbacks=("SPIFFE_ENDPOINT_SOCKET",),
        help="SPIFFE Workload API endpoint, e.g. unix:///run/spire/agent-sockets/agent.sock.",
        doc="the SPIRE agent's Workload API, `unix:///path`",
    )
    spiffe_id: str | None = option(
        metavar="SPIFFE_ID",
        parse=parse_id,
        help="Which SVID to use when the Workload API serves this process several.",
        doc="which SVID to take when the Workload API serves this process several (default: "
        "the agent's first); not ready while the agent serves none with this ID",
        chart={"type": "string", "pattern": "^spiffe://"},
    )
    svid: Path | None = option(
        metavar="PEM",
        click_type=_FILE,
        help="File identity: the X.509-SVID chain (PEM, leaf first).",
        doc="identity from files instead of the Workload API (spiffe-helper layout), with "
        "`--svid-key` and `--bundle`; files are re-read when they change, and a half-written "
        "file or a key that does not match is ignored",
    )
    svid_key: Path | None = option(
        metavar="PEM",
        click_type=_FILE,
        help="File identity: the SVID's private key (PEM).",
        doc="the file identity's private key (PEM)",
    )
    bundles: Mapping[str, Path] = option(
        factory=dict,
        flag="bundle",
        metavar="TD=PEM",
        multiple=True,
        parse=parse_bundle_args,
        help="File identity: TRUST_DOMAIN=PEM trust bundle; repeatable (federation).",
        doc="the file identity's trust bundle for one trust domain; repeatable (federation)",
    )
    issuers: tuple[IdPattern, ...] = option(
        (),
        flag="issuer",
        metavar="PATTERN",
        multiple=True,
        parse=parse_patterns,
        help="SPIFFE ID or ID/* pattern whose tokens verify here; default: this daemon's ID.",
        doc="repeatable; whose tokens this daemon accepts when verifying: an exact SPIFFE ID "
        "or `ID/*` (anything strictly below); default: the daemon's own ID",
        chart=_PATTERNS,
    )
    admins: tuple[IdPattern, ...] = option(
        (),
        flag="admin",
        metavar="PATTERN",
        multiple=True,
        parse=parse_patterns,
        help="SPIFFE ID pattern allowed to revoke any token; repeatable.",
        doc="repeatable; callers allowed to revoke any token or task",
        chart=_PATTERNS,
    )
    policy: Path | None = option(
        metavar="FILE",
        click_type=_FILE,
        sighup="re-read",
        help="Policy file (policy.md); re-read on SIGHUP and on change.",
        doc="the policy ([policy.md](policy.md)); re-read on SIGHUP and on change (below)",
    )
    state_dir: Path = option(
        DEFAULT_STATE_DIR,
        metavar="DIR",
        click_type=click.Path(file_okay=False, path_type=Path),
        help="Where revocations survive restarts.",
        doc="revocations and the ledger of issued tokens, kept across restarts; one that "
        "cannot be used at start (read-only, no permission, a corrupt store) stops start-up "
        "with exit 2 and one line naming it",
    )
    metrics_address: tuple[str, int] | None = option(
        metavar="HOST:PORT",
        parse=parse_address,
        help="HOST:PORT for /metrics, /healthz and /readyz.",
        doc="HTTP `/metrics`, `/healthz` (alive), `/readyz` (identity, socket, state dir) and "
        "`/jwks.json` (this node's current and previous signing keys, "
        "[exchange.md](exchange.md)); HTTP/1.0, GET only, one request per connection: a "
        "request must arrive whole within 5 s and be at most 8 KiB, 4 threads answer, of more "
        "than 256 connections still sending their request the oldest is closed, and an "
        "endpoint that takes over 10 s answers 503",
    )
    audit_log: str | None = option(
        metavar="PATH",
        sighup="reopened",
        help="JSON-lines audit file, or - for stdout.",
        doc="JSON-lines audit trail ([audit.md](audit.md)), `-` for stdout; reopened on SIGHUP",
        chart={"type": "string", "minLength": 1},
    )
    audit_required: bool = option(
        False,
        is_flag=True,
        help="Refuse any decision the audit log cannot record (fail closed).",
        doc="refuse any decision the audit trail cannot record: on a full disk every issue, "
        "exchange, revoke, verification and Envoy check fails (`UNAVAILABLE`) until space is "
        "back; refused verifications left out by the audit rate limit "
        "([audit.md](audit.md#what-anyone-can-make-it-write)) are not failures",
        chart={"type": "boolean"},
    )
    default_ttl: int = option(
        300,
        metavar="SECONDS",
        click_type=int,
        help="Token lifetime when none is asked for.",
        doc="lifetime of a token when none is asked for",
        chart=_SECONDS,
    )
    max_ttl: int = option(
        3600,
        metavar="SECONDS",
        click_type=int,
        help="The longest lifetime a token may have.",
        doc="the longest lifetime a token may have",
        chart=_SECONDS,
    )
    clock_skew: int = option(
        30,
        metavar="SECONDS",
        click_type=int,
        help="Verification skew, 0 to 300.",
        doc="how far clocks may disagree when verifying, 0 to 300",
        chart={"type": "integer", "minimum": 0},
    )
    dpop_window: int = option(
        60,
        metavar="SECONDS",
        click_type=int,
        parse=parse_dpop_window,
        help="Seconds a DPoP proof's iat may lie in the past (the MCP profile uses 300).",
        doc="how far in the past a DPoP proof's `iat` may lie, 1 to 300 (the MCP profile uses "
        "300); a proof may be at most `--clock-skew` ahead",
        chart={"type": "integer", "minimum": 1, "maximum": 300},
    )
    dpop_require_nonce: bool = option(
        False,
        is_flag=True,
        help="Make every DPoP proof carry a server nonce (RFC 9449 section 8).",
        doc="every DPoP proof must carry a fresh server nonce (RFC 9449 section 8); answers "
        "carry the nonce to use ([token-profile.md](token-profile.md) section 7)",
        chart={"type": "boolean"},
    )
    grace_seconds: float = option(
        5.0,
        metavar="SECONDS",
        click_type=float,
        help="How long in-flight calls may finish after SIGTERM.",
        doc="how long in-flight calls may finish after SIGTERM",
        chart={"type": "number", "minimum": 0},
    )
    ext_authz_socket: Path | None = option(
        metavar="PATH",
        click_type=_FILE,
        help="Also serve Envoy's envoy.service.auth.v3.Authorization on this Unix socket; "
        "routes come from the config file's ext_authz_routes (docs/ext-authz.md).",
        doc="also serve Envoy's `envoy.service.auth.v3.Authorization` on this socket (its own "
        "mode and group, below); routes come from the config file's `ext_authz_routes` "
        "([ext-authz.md](ext-authz.md))",
    )
    ext_authz_socket_mode: int = option(
        0o660,
        metavar="MODE",
        parse=parse_octal,
        show_default="0660",
        help="File mode of the ext_authz socket: only Envoy needs it.",
        doc="octal file mode of the ext_authz socket (`0660` by default: only Envoy needs it; "
        "give Envoy the group with `--ext-authz-socket-group`)",
        chart={"type": "string", "pattern": "^0?[0-7]{3}$"},
    )
    ext_authz_socket_group: int | None = option(
        metavar="GROUP",
        parse=parse_group,
        help="Group (name or number) of the ext_authz socket, e.g. Envoy's; default: the daemon's.",
        doc="group (name or number) of the ext_authz socket, e.g. Envoy's; default: the daemon's",
        chart={"type": ["string", "integer"]},
    )
    ext_authz_address: tuple[str, int] | None = option(
        metavar="HOST:PORT",
        parse=parse_address,
        help="Also serve ext_authz on this TCP HOST:PORT (Istio, Envoy Gateway), with mutual "
        "TLS: this daemon's SVID, and callers' certificates checked against its trust bundles.",
        doc="also serve ext_authz on this TCP address (Istio's CUSTOM provider, Envoy "
        "Gateway), with mutual TLS: the daemon's own SVID, and a client certificate that "
        "chains to the trust bundle is required ([ext-authz.md](ext-authz.md))",
        chart={"type": "string", "pattern": "^.+:[0-9]{1,5}$"},
    )
    ext_authz_plaintext: bool = option(
        False,
        is_flag=True,
        help="Serve --ext-authz-address without TLS; refused unless it is a loopback address.",
        doc="serve `--ext-authz-address` without TLS; refused unless that is a loopback "
        "address, where only this host's processes can connect",
        chart={"type": "boolean"},
    )
    ext_authz_trust_xfcc: bool = option(
        False,
        is_flag=True,
        help="Take the client certificate from x-forwarded-client-cert, set by a front proxy "
        "that terminated mTLS and sanitizes that header.",
        doc="take the client certificate from `x-forwarded-client-cert` instead of the direct "
        "mTLS peer; only behind a proxy that sanitizes that header",
    )
    ext_authz_keep_authorization: bool = option(
        False,
        is_flag=True,
        help="Forward the Authorization header upstream (default: removed once checked).",
        doc="forward the `Authorization` header upstream after a check (default: removed)",
    )
    ext_authz_routes: tuple[Route, ...] = option(
        (),
        file_only=True,
        parse=_routes,
        help="the ext_authz route table ([ext-authz.md](ext-authz.md))",
    )
    upstream_issuers: tuple[UpstreamIssuer, ...] = option(
        (),
        file_only=True,
        parse=_upstream_issuers,
        help="the upstream OAuth2 issuers whose access tokens agents may exchange "
        "([exchange.md](exchange.md))",
    )
    cluster_urls: tuple[str, ...] = option(
        (),
        flag="cluster_url",
        metavar="URL",
        multiple=True,
        help="NATS server (nats://HOST:PORT or tls://HOST:PORT); repeatable. Turns on "
        "cluster-wide revocation; without it the daemon is node-local.",
        doc="repeatable; a NATS server, `nats://` or `tls://HOST:PORT`: turns cluster-wide "
        "revocation on ([cluster.md](cluster.md)); without it the daemon is node-local",
    )
    cluster_bucket: str = option(
        DEFAULT_BUCKET,
        metavar="NAME",
        help="JetStream key-value bucket of revocations; created if absent.",
        doc="the JetStream key-value bucket of revocations; created if absent",
    )
    cluster_replicas: int = option(
        1,
        metavar="N",
        click_type=int,
        help="Replicas of a bucket this daemon creates (3 in production).",
        doc="replicas of a bucket this daemon creates, 1 to 5 (3 in production)",
    )
    cluster_tls: bool = option(
        False,
        is_flag=True,
        help="TLS to NATS with this daemon's X.509-SVID as client certificate; the server is "
        "verified against the SPIFFE bundle, or --cluster-ca.",
        doc="TLS to NATS with the daemon's own X.509-SVID as client certificate; the server "
        "is verified against the SPIFFE bundle, or `--cluster-ca` (implied by `tls://` URLs)",
    )
    cluster_ca: Path | None = option(
        metavar="PEM",
        click_type=_FILE,
        help="PEM CA file that verifies the NATS servers (with their host names).",
        doc="a PEM CA file that verifies the NATS servers, host names included",
    )
    cluster_creds: Path | None = option(
        metavar="FILE",
        click_type=_FILE,
        help="NATS credentials file (user JWT and NKey seed).",
        doc="a NATS credentials file (user JWT and NKey seed)",
    )
    cluster_stale_after: float = option(
        30.0,
        metavar="SECONDS",
        click_type=float,
        help="Seconds out of sync with the feed after which tokens are refused as "
        "revocation_unavailable.",
        doc="how long the daemon may be out of sync with the feed before it refuses tokens "
        "as `revocation_unavailable` and reports not ready",
    )
    cluster_fail_open: bool = option(
        False,
        is_flag=True,
        help="Past --cluster-stale-after, keep accepting tokens (logged and counted).",
        doc="past `--cluster-stale-after`, keep accepting tokens (logged and counted)",
    )
    cluster_ack_timeout: float = option(
        2.0,
        metavar="SECONDS",
        click_type=float,
        help="Seconds RevokeToken waits for the engine's acknowledgement.",
        doc="how long RevokeToken waits for the engine's acknowledgement before it answers "
        "`propagated=false`",
    )
    log_level: str = option(
        "info",
        click_type=click.Choice(LOG_LEVELS),
        help="How much the daemon logs.",
        doc="`debug`, `info`, `warning` or `error`",
        chart={"enum": list(LOG_LEVELS)},
    )
    request_window: int = 60
    """How long a signed request is accepted (token-profile section 2); not an option."""

    @property
    def files(self) -> FileIdentity | None:
        """The file identity when ``--svid`` is given (:func:`validated` checks the parts)."""
        if self.svid is None or self.svid_key is None:
            return None
        return FileIdentity(self.svid, self.svid_key, self.bundles)

    @property
    def cluster(self) -> ClusterSettings | None:
        """The cluster feed's settings, None in node-local mode (no ``--cluster-url``);
        ConfigError names a bad one (:func:`validated` asks once at start)."""
        return cluster_settings(
            urls=self.cluster_urls,
            bucket=self.cluster_bucket,
            replicas=self.cluster_replicas,
            tls=self.cluster_tls,
            ca=self.cluster_ca,
            creds=self.cluster_creds,
            stale_after=self.cluster_stale_after,
            fail_open=self.cluster_fail_open,
            ack_timeout=self.cluster_ack_timeout,
        )

    @property
    def ext_authz(self) -> ExtAuthzSettings:
        return ExtAuthzSettings(
            routes=self.ext_authz_routes,
            trust_xfcc=self.ext_authz_trust_xfcc,
            keep_authorization=self.ext_authz_keep_authorization,
        )


def validated(config: DaemonConfig) -> DaemonConfig:
    """``config`` when its settings agree with each other; ConfigError names the conflict."""
    check_ttls(config.default_ttl, config.max_ttl, config.clock_skew)
    check_ext_authz_address(config.ext_authz_address, config.ext_authz_plaintext)
    _ = config.cluster  # built once here, so a bad cluster option stops start-up
    given = (config.svid is not None, config.svid_key is not None, bool(config.bundles))
    if any(given) and not all(given):
        raise ConfigError("--svid, --svid-key and at least one --bundle go together")
    if config.files is not None:
        return config
    return dataclasses.replace(config, workload_api=workload_api_endpoint(config.workload_api))


def check_ext_authz_address(address: tuple[str, int] | None, plaintext: bool) -> None:
    """Plaintext ext_authz only on a loopback address, where only this host's processes
    can connect."""
    if not plaintext:
        return
    if address is None:
        raise ConfigError("--ext-authz-plaintext needs --ext-authz-address")
    if not _loopback(address[0]):
        raise ConfigError(
            f"--ext-authz-plaintext: {address[0]} is not a loopback address; "
            "off the host, ext_authz is served with mutual TLS only"
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


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
