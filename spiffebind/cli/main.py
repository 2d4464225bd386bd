"""The click group and the one place where our errors become exit codes."""

from __future__ import annotations

import sys
from typing import Any

import click

from spiffebind import __version__
from spiffebind.cli.agent import revoke, token
from spiffebind.cli.audit import audit
from spiffebind.cli.exchange import exchange
from spiffebind.cli.ops import healthcheck, status
from spiffebind.cli.run import run
from spiffebind.cli.verify import verify
from spiffebind.errors import ConfigError, SpiffebindError, UnreachableError

EXIT_NO = 1
EXIT_USAGE = 2


def exit_code(exc: SpiffebindError) -> int:
    """cli.md's code: 2 for a setup to fix or no daemon answering, 1 for any other "no"."""
    return EXIT_USAGE if isinstance(exc, ConfigError | UnreachableError) else EXIT_NO


class _Group(click.Group):
    """Turns our errors into one stderr line and the cli.md exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpiffebindError as exc:
            code = exit_code(exc)
            click.echo(f"spiffebind: {'error: ' if code == EXIT_USAGE else ''}{exc}", err=True)
            sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spiffebind")
def main() -> None:
    """spiffebind: SPIFFE-bound, task-scoped access tokens for AI agents."""


for command in (run, token, exchange, revoke, verify, status, healthcheck, audit):
    main.add_command(command)
