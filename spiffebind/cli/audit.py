"""``spiffebind audit verify``: check the hash chain of audit files, oldest first."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from spiffebind.cli.options import json_option
from spiffebind.observe.audit_chain import ZERO, ChainResult, verify_chain

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def _prev(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise click.BadParameter("must be 64 lowercase hex digits (a SHA-256)")
    return value


def _verify_file(path: Path, start: str) -> ChainResult:
    with path.open("rb") as lines:
        return verify_chain((line.removesuffix(b"\n") for line in lines), start)


@click.group()
def audit() -> None:
    """Work with the audit trail (docs/audit.md)."""


@audit.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--start",
    metavar="PREV",
    default=ZERO,
    callback=_prev,
    help="The prev the first line must carry: the head of the file before it.  [default: zeros]",
)
@json_option
def verify(files: tuple[Path, ...], start: str, as_json: bool) -> None:
    """Verify FILES as one chain, in the order given (rotated files first).

    Exit 0 when intact, 1 at the first broken line (file and line named), 2 when a file
    cannot be read.
    """
    head, total = start, 0
    for path in files:
        try:
            result = _verify_file(path, head)
        except OSError as exc:
            click.echo(f"spiffebind: audit: cannot read {path}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)
        total += result.count
        head = result.head
        if not result.ok:
            fault = str(result.fault)
            if as_json:
                report = {"ok": False, "events": total, "head": head, "file": str(path)}
                report.update(line=result.line, fault=fault, detail=result.detail)
                click.echo(json.dumps(report))
            click.echo(f"{path}:{result.line}: {fault}: {result.detail}", err=True)
            sys.exit(EXIT_BROKEN)
    if as_json:
        click.echo(json.dumps({"ok": True, "events": total, "head": head}))
    else:
        click.echo(f"ok: {total} events")
    sys.exit(EXIT_OK)
