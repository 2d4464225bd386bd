"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from spiffebind.client.credentials import Credentials, from_files, from_workload_api
from spiffebind.errors import ConfigError

# ctx.meta is shared by the group and its command: the group's error handler reads the
# socket a command used, to name it when the daemon cannot be reached.
SOCKET_META = "spiffebind.socket"


def _remember_socket(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    ctx.meta[SOCKET_META] = value
    return value


socket_option = click.option(
    "--socket",
    envvar="SPIFFEBIND_ENDPOINT_SOCKET",
    show_envvar=True,
    callback=_remember_socket,
    help="The daemon's API socket (path or unix:///path); default /run/spiffebind/api.sock.",
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout."
)


def agent_identity_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--workload-api`` or ``--svid/--svid-key``: the SVID that signs the request."""
    for option in reversed(
        (
            click.option(
                "--workload-api",
                envvar=["SPIFFEBIND_WORKLOAD_API", "SPIFFE_ENDPOINT_SOCKET"],
                show_envvar=True,
                help="SPIFFE Workload API endpoint of the agent (unix:///path).",
            ),
            click.option(
                "--svid",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The agent's X.509-SVID chain (PEM), instead of the Workload API.",
            ),
            click.option(
                "--svid-key",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The agent's SVID private key (PEM).",
            ),
        )
    ):
        command = option(command)
    return command


def agent_credentials(
    workload_api: str | None, svid: Path | None, svid_key: Path | None
) -> Credentials:
    """The credentials the options name; ConfigError when they are incomplete."""
    if svid is not None or svid_key is not None:
        if svid is None or svid_key is None:
            raise ConfigError("--svid and --svid-key go together")
        return from_files(svid, svid_key)
    if not workload_api:
        raise ConfigError("give --workload-api (or SPIFFE_ENDPOINT_SOCKET) or --svid/--svid-key")
    return from_workload_api(workload_api)
