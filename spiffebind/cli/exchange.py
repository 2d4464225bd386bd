"""``spiffebind exchange``: RFC 8693 token exchange from the command line (cli.md).

The subject token is another agent's token (delegation) or an upstream OAuth2 access token;
the result is narrowed and bound to this agent's SVID. A refusal prints the OAuth2 error
code (``invalid_request``, ``invalid_target``, ``invalid_scope``...) and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from spiffebind.cli.agent import parse_authorization_details, print_token
from spiffebind.cli.options import (
    agent_credentials,
    agent_identity_options,
    json_option,
    socket_option,
)
from spiffebind.client.agent import AgentClient
from spiffebind.errors import ExchangeRejected
from spiffebind.wire import ACCESS_TOKEN_TYPE, SUBJECT_TOKEN_TYPES

EXIT_REFUSED = 1


def _subject_token(value: str) -> str:
    """TOKEN, or @FILE holding it (one final newline dropped), so it stays out of ``ps``."""
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="ascii").removesuffix("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--subject-token") from None


@click.command()
@socket_option
@agent_identity_options
@click.option(
    "--subject-token", required=True, help="The token to exchange, or @FILE that holds it."
)
@click.option(
    "--subject-token-type",
    type=click.Choice(SUBJECT_TOKEN_TYPES),
    default=ACCESS_TOKEN_TYPE,
    show_default=True,
    help="RFC 8693 token type URN of the subject token.",
)
@click.option("--audience", required=True, multiple=True, help="Who the token is for; repeatable.")
@click.option(
    "--scope", "scopes", multiple=True, help="A scope to keep; repeatable (default: all)."
)
@click.option("--ttl", type=click.IntRange(min=1), help="Requested lifetime in seconds.")
@click.option("--txn", help="The task, when the subject token has none (else inherited).")
@click.option(
    "--authorization-details",
    help="RFC 9396 JSON array: entries of the subject token to keep (default: all).",
)
@click.option("--may-act", metavar="SPIFFE_ID", help="The one agent allowed to exchange further.")
@json_option
def exchange(
    socket: str | None,
    workload_api: str | None,
    svid: Path | None,
    svid_key: Path | None,
    subject_token: str,
    subject_token_type: str,
    audience: tuple[str, ...],
    scopes: tuple[str, ...],
    ttl: int | None,
    txn: str | None,
    authorization_details: str | None,
    may_act: str | None,
    as_json: bool,
) -> None:
    """Exchange another agent's or an upstream issuer's token for one bound to this agent."""
    token = _subject_token(subject_token)
    credentials = agent_credentials(workload_api, svid, svid_key)
    with AgentClient(socket, credentials=credentials) as client:
        try:
            issued = client.exchange(
                token,
                list(audience),
                scopes,
                subject_token_type=subject_token_type,
                ttl=ttl,
                txn=txn,
                authorization_details=parse_authorization_details(authorization_details),
                may_act=may_act,
            )
        except ExchangeRejected as exc:
            _refused(exc, as_json=as_json)
    print_token(issued, as_json=as_json, issued_token_type=ACCESS_TOKEN_TYPE)


def _refused(exc: ExchangeRejected, *, as_json: bool) -> NoReturn:
    """RFC 6749 5.2 error response members, plus our reason code."""
    click.echo(f"spiffebind: {exc.oauth.value}: {exc}", err=True)
    if as_json:
        body = {"error": exc.oauth.value, "reason": exc.reason.value, "error_description": str(exc)}
        click.echo(json.dumps(body, sort_keys=True))
    sys.exit(EXIT_REFUSED)
