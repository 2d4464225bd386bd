"""The click group and the one place where our errors become exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from spiffebind import __version__
from spiffebind.cli.agent import revoke, token
from spiffebind.cli.audit import audit
from spiffebind.cli.exchange import exchange
from spiffebind.cli.ops import healthcheck, status
from spiffebind.cli.options import SOCKET_META
from spiffebind.cli.run import run
from spiffebind.cli.verify import verify
from spiffebind.client.channel import socket_target
from spiffebind.errors import ConfigError, SpiffebindError, UnreachableError

EXIT_NO = 1
EXIT_USAGE = 2


def exit_code(exc: SpiffebindError) -> int:
    """cli.md's code: 2 for a setup to fix or no daemon answering, 1 for any other "no"."""
    return EXIT_USAGE if isinstance(exc, ConfigError | UnreachableError) else EXIT_NO


def _unreachable(ctx: click.Context) -> str:
    """One message naming the socket, instead of gRPC's connection text."""
    return f"cannot reach the daemon at {socket_target(ctx.meta.get(SOCKET_META))[len('unix:') :]}"


class _Group(click.Group):
    """Turns our errors into one stderr line and the cli.md exit code; with ``--json``, also
    into the one JSON object on stdout: ``{"error": "usage"|"unreachable"|"failed",
    "error_description": ...}``."""

    def invoke(self, ctx: click.Context) -> Any:
        wants_json = "--json" in ctx.args

        def as_json(kind: str, message: str) -> None:
            if wants_json:
                click.echo(json.dumps({"error": kind, "error_description": message}))

        def fail(kind: str, message: str, prefix: str, code: int) -> NoReturn:
            as_json(kind, message)
            click.echo(f"{prefix}{message}", err=True)
            sys.exit(code)

        try:
            return super().invoke(ctx)
        except UnreachableError:
            fail("unreachable", _unreachable(ctx), "spiffebind: error: ", EXIT_USAGE)
        except SpiffebindError as exc:
            if exit_code(exc) == EXIT_USAGE:
                fail("usage", str(exc), "spiffebind: error: ", EXIT_USAGE)
            fail("failed", str(exc), "spiffebind: ", EXIT_NO)
        except click.UsageError as exc:
            as_json("usage", exc.format_message())  # click itself prints it and exits 2
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spiffebind")
def main() -> None:
    """spiffebind: SPIFFE-bound, task-scoped access tokens for AI agents."""


for command in (run, token, exchange, revoke, verify, status, healthcheck, audit):
    main.add_command(command)
