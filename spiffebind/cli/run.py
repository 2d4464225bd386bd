"""``spiffebind run``: parse settings with click's precedence, then hand over to the daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from spiffebind import config as cfg
from spiffebind.cli.cluster_options import cluster_options, settings_from
from spiffebind.service.ext_authz_routes import ExtAuthzSettings, parse_routes
from spiffebind.upstream.settings import parse_upstream_issuers


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Eager ``--config``: the file becomes click's default_map, so flags and env still win."""
    if value:
        allowed = {p.name for p in ctx.command.params if p.name and p.name != "config"}
        allowed.update(cfg.FILE_ONLY_KEYS)
        ctx.default_map = cfg.read_config_file(Path(value), allowed)
    return value


def _env(name: str) -> str:
    return f"SPIFFEBIND_{name}"


@click.command()
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_config,
    envvar=_env("CONFIG"),
    show_envvar=True,
    help="YAML file whose keys are these options' names (unknown keys are refused).",
)
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    default=cfg.DEFAULT_SOCKET,
    show_default=True,
    envvar=_env("SOCKET"),
    show_envvar=True,
    help="The API's Unix socket.",
)
@click.option(
    "--socket-mode",
    default="0666",
    show_default=True,
    envvar=_env("SOCKET_MODE"),
    show_envvar=True,
    help="File mode of the API socket (requests authenticate by signature).",
)
@click.option(
    "--workload-api",
    envvar=[_env("WORKLOAD_API"), "SPIFFE_ENDPOINT_SOCKET"],
    show_envvar=True,
    help="SPIFFE Workload API endpoint, e.g. unix:///run/spire/agent-sockets/agent.sock.",
)
@click.option(
    "--spiffe-id",
    envvar=_env("SPIFFE_ID"),
    show_envvar=True,
    help="Which SVID to use when the Workload API serves this process several.",
)
@click.option(
    "--svid",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("SVID"),
    show_envvar=True,
    help="File identity: the X.509-SVID chain (PEM, leaf first).",
)
@click.option(
    "--svid-key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("SVID_KEY"),
    show_envvar=True,
    help="File identity: the SVID's private key (PEM).",
)
@click.option(
    "--bundle",
    multiple=True,
    envvar=_env("BUNDLE"),
    show_envvar=True,
    help="File identity: TRUST_DOMAIN=PEM trust bundle; repeatable (federation).",
)
@click.option(
    "--issuer",
    multiple=True,
    envvar=_env("ISSUER"),
    show_envvar=True,
    help="SPIFFE ID or ID/* pattern whose tokens verify here; default: this daemon's ID.",
)
@click.option(
    "--admin",
    multiple=True,
    envvar=_env("ADMIN"),
    show_envvar=True,
    help="SPIFFE ID pattern allowed to revoke any token; repeatable.",
)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("POLICY"),
    show_envvar=True,
    help="Policy file (policy.md); re-read on SIGHUP and on change.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=cfg.DEFAULT_STATE_DIR,
    show_default=True,
    envvar=_env("STATE_DIR"),
    show_envvar=True,
    help="Where revocations survive restarts.",
)
@click.option(
    "--metrics-address",
    envvar=_env("METRICS_ADDRESS"),
    show_envvar=True,
    help="HOST:PORT for /metrics, /healthz and /readyz.",
)
@click.option(
    "--audit-log",
    envvar=_env("AUDIT_LOG"),
    show_envvar=True,
    help="JSON-lines audit file, or - for stdout.",
)
@click.option(
    "--audit-required",
    is_flag=True,
    envvar=_env("AUDIT_REQUIRED"),
    show_envvar=True,
    help="Refuse any decision the audit log cannot record (fail closed).",
)
@click.option(
    "--default-ttl",
    type=int,
    default=300,
    show_default=True,
    envvar=_env("DEFAULT_TTL"),
    show_envvar=True,
)
@click.option(
    "--max-ttl", type=int, default=3600, show_default=True, envvar=_env("MAX_TTL"), show_envvar=True
)
@click.option(
    "--clock-skew",
    type=int,
    default=30,
    show_default=True,
    envvar=_env("CLOCK_SKEW"),
    show_envvar=True,
)
@click.option(
    "--grace-seconds",
    type=float,
    default=5.0,
    show_default=True,
    envvar=_env("GRACE_SECONDS"),
    show_envvar=True,
    help="How long in-flight calls may finish after SIGTERM.",
)
@click.option(
    "--ext-authz-socket",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("EXT_AUTHZ_SOCKET"),
    show_envvar=True,
    help="Also serve Envoy's envoy.service.auth.v3.Authorization on this Unix socket; "
    "routes come from the config file's ext_authz_routes (docs/ext-authz.md).",
)
@click.option(
    "--ext-authz-socket-mode",
    default="0660",
    show_default=True,
    envvar=_env("EXT_AUTHZ_SOCKET_MODE"),
    show_envvar=True,
    help="File mode of the ext_authz socket: only Envoy needs it.",
)
@click.option(
    "--ext-authz-socket-group",
    envvar=_env("EXT_AUTHZ_SOCKET_GROUP"),
    show_envvar=True,
    help="Group (name or number) of the ext_authz socket, e.g. Envoy's; default: the daemon's.",
)
@click.option(
    "--ext-authz-trust-xfcc",
    is_flag=True,
    envvar=_env("EXT_AUTHZ_TRUST_XFCC"),
    show_envvar=True,
    help="Take the client certificate from x-forwarded-client-cert, set by a front proxy "
    "that terminated mTLS and sanitizes that header.",
)
@click.option(
    "--ext-authz-keep-authorization",
    is_flag=True,
    envvar=_env("EXT_AUTHZ_KEEP_AUTHORIZATION"),
    show_envvar=True,
    help="Forward the Authorization header upstream (default: removed once checked).",
)
@cluster_options
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    envvar=_env("LOG_LEVEL"),
    show_envvar=True,
)
def run(**opts: Any) -> None:
    """Run the node-local daemon."""
    from spiffebind.daemon import run_daemon

    file_only = click.get_current_context().default_map or {}
    opts.update({key: file_only.get(key) for key in cfg.FILE_ONLY_KEYS})
    run_daemon(build_config(opts), log_level=opts["log_level"])


def build_config(opts: dict[str, Any]) -> cfg.DaemonConfig:
    """Typed settings from click's resolved values; ConfigError names the bad one."""
    mode = cfg.parse_mode("--socket-mode", opts["socket_mode"])
    cfg.check_ttls(opts["default_ttl"], opts["max_ttl"], opts["clock_skew"])
    files = cfg.file_identity(opts["svid"], opts["svid_key"], cfg.parse_bundle_args(opts["bundle"]))
    return cfg.DaemonConfig(
        socket=opts["socket"],
        socket_mode=mode,
        workload_api=None if files else cfg.workload_api_endpoint(opts["workload_api"]),
        spiffe_id=cfg.parse_id("--spiffe-id", opts["spiffe_id"]),
        files=files,
        issuers=cfg.parse_patterns("--issuer", opts["issuer"]),
        admins=cfg.parse_patterns("--admin", opts["admin"]),
        policy=opts["policy"],
        state_dir=opts["state_dir"],
        metrics_address=cfg.parse_address(opts["metrics_address"])
        if opts["metrics_address"]
        else None,
        audit_log=opts["audit_log"],
        audit_required=opts["audit_required"],
        default_ttl=opts["default_ttl"],
        max_ttl=opts["max_ttl"],
        clock_skew=opts["clock_skew"],
        grace_seconds=opts["grace_seconds"],
        ext_authz_socket=opts["ext_authz_socket"],
        ext_authz_socket_mode=cfg.parse_mode(
            "--ext-authz-socket-mode", opts["ext_authz_socket_mode"]
        ),
        ext_authz_socket_group=cfg.parse_group(
            "--ext-authz-socket-group", opts["ext_authz_socket_group"]
        ),
        ext_authz=ExtAuthzSettings(
            routes=parse_routes(opts.get("ext_authz_routes")),
            trust_xfcc=opts["ext_authz_trust_xfcc"],
            keep_authorization=opts["ext_authz_keep_authorization"],
        ),
        upstream_issuers=parse_upstream_issuers(opts.get("upstream_issuers")),
        cluster=settings_from(opts),
    )
