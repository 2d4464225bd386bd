"""The click group and the one place where our errors become exit codes."""

from __future__ import annotations

import sys
from typing import Any

import click

from spiffebind import __version__
from spiffebind.cli.run import run
from spiffebind.errors import ConfigError, SpiffebindError

EXIT_NO = 1
EXIT_USAGE = 2


class _Group(click.Group):
    """Turns our errors into one stderr line and the cli.md exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"spiffebind: error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except SpiffebindError as exc:
            click.echo(f"spiffebind: {exc}", err=True)
            sys.exit(EXIT_NO)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spiffebind")
def main() -> None:
    """spiffebind: SPIFFE-bound, task-scoped access tokens for AI agents."""


main.add_command(run)
