"""``spiffebind run``: parse settings with click's precedence, then hand over to the daemon.

Every option but ``--config`` is generated from the fields of
:class:`spiffebind.config.DaemonConfig` (see :mod:`spiffebind.options`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from spiffebind import config as cfg
from spiffebind import options
from spiffebind.errors import ConfigError

# Top-level modules of the ``daemon`` extra's distributions (grpcio-reflection,
# prometheus-client, xds-protos, nats-py): an agent-only install has none of them.
DAEMON_EXTRA_MODULES = frozenset(
    {"grpc_reflection", "prometheus_client", "envoy", "xds", "udpa", "validate", "nats", "uvloop"}
)


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Eager ``--config``: the file becomes click's default_map, so flags and env still win."""
    if value:
        ctx.default_map = options.read_config_file(Path(value), options.file_keys(cfg.DaemonConfig))
    return value


def _click_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One click option per command-line option of DaemonConfig, in declared order."""
    for f, spec in reversed(list(options.options_of(cfg.DaemonConfig))):
        if spec.file_only:
            continue
        command = click.option(
            spec.cli,
            spec.name,
            type=spec.click_type,
            metavar=spec.metavar or None,
            multiple=spec.multiple,
            # None, not False: click 8.5 reads an explicit is_flag=False as "the value is
            # optional", and then takes a value such as -5 for an unknown option
            is_flag=spec.is_flag or None,
            envvar=[spec.env, *spec.env_fallbacks],
            show_envvar=True,
            show_default=options.shown_default(f, spec) or False,
            help=spec.help,
        )(command)
    return command


@click.command()
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_config,
    envvar=f"{options.ENV_PREFIX}CONFIG",
    show_envvar=True,
    help="YAML file whose keys are these options' names (unknown keys are refused).",
)
@_click_options
def run(**opts: Any) -> None:
    """Run the node-local daemon."""
    try:
        from spiffebind.daemon import run_daemon
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in DAEMON_EXTRA_MODULES:
            raise
        raise ConfigError(
            f"spiffebind run needs the daemon extra ({exc.name} is not installed): "
            "pip install 'spiffebind[daemon]'"
        ) from None
    run_daemon(build_config(opts))


def build_config(opts: dict[str, Any]) -> cfg.DaemonConfig:
    """Typed settings from click's resolved values (file-only keys come from the config
    file); ConfigError names the bad one."""
    file_values = click.get_current_context().default_map or {}
    resolved = {**file_values, **opts}
    return cfg.validated(options.resolve(cfg.DaemonConfig, resolved))
