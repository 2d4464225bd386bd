"""Agent-side commands: ``spiffebind token`` and ``spiffebind revoke``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from spiffebind.cli.options import (
    agent_credentials,
    agent_identity_options,
    json_option,
    socket_option,
)
from spiffebind.client.agent import AgentClient
from spiffebind.client.core import BoundToken
from spiffebind.errors import ConfigError

EXIT_PENDING = 1
"""``revoke``: in force at this node, not yet acknowledged by the cluster engine."""


def parse_authorization_details(value: str | None) -> list[dict[str, object]] | None:
    if value is None:
        return None
    try:
        details = json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"--authorization-details is not JSON: {exc}") from None
    if not isinstance(details, list):
        raise ConfigError("--authorization-details must be a JSON array (RFC 9396)")
    return details


@click.command()
@socket_option
@agent_identity_options
@click.option("--audience", required=True, multiple=True, help="Who the token is for; repeatable.")
@click.option("--scope", "scopes", multiple=True, help="A scope to ask for; repeatable.")
@click.option("--ttl", type=click.IntRange(min=1), help="Requested lifetime in seconds.")
@click.option("--txn", help="The task this token is for; revoking the task revokes the token.")
@click.option("--authorization-details", help="RFC 9396 JSON array of {type: ...} objects.")
@click.option(
    "--may-act",
    metavar="SPIFFE_ID",
    help="The one agent allowed to exchange this token (RFC 8693 may_act); policy must let "
    "it act for you.",
)
@json_option
def token(
    socket: str | None,
    workload_api: str | None,
    svid: Path | None,
    svid_key: Path | None,
    audience: tuple[str, ...],
    scopes: tuple[str, ...],
    ttl: int | None,
    txn: str | None,
    authorization_details: str | None,
    may_act: str | None,
    as_json: bool,
) -> None:
    """Get a token bound to this agent's SVID and print it."""
    credentials = agent_credentials(workload_api, svid, svid_key)
    with AgentClient(socket, credentials=credentials) as client:
        issued = client.token(
            list(audience),
            scopes,
            ttl=ttl,
            txn=txn,
            authorization_details=parse_authorization_details(authorization_details),
            may_act=may_act,
        )
    print_token(issued, as_json=as_json)


def print_token(issued: BoundToken, *, as_json: bool, **extra: str) -> None:
    """The token alone, or the cli.md JSON object (plus ``extra`` members)."""
    if not as_json:
        click.echo(issued.access_token)
        return
    body = {
        "access_token": issued.access_token,
        "token_type": issued.token_type,
        "expires_in": max(0, issued.expires_at - int(time.time())),
        "expires_at": issued.expires_at,
        "scope": issued.scope,
        "jti": issued.jti,
        "txn": issued.txn or None,
        **extra,
    }
    click.echo(json.dumps(body, sort_keys=True))


@click.command()
@socket_option
@agent_identity_options
@click.option("--jti", help="Revoke this one token.")
@click.option("--txn", help="Revoke every token of this task.")
@json_option
def revoke(
    socket: str | None,
    workload_api: str | None,
    svid: Path | None,
    svid_key: Path | None,
    jti: str | None,
    txn: str | None,
    as_json: bool,
) -> None:
    """Revoke a token (--jti) or a task (--txn); allowed for the token's client or an admin.

    Exit 0 once the revocation is in force on every node; exit 1 when it is in force at this
    node only, its propagation pending (cluster mode, engine unreachable): retrying is safe.
    """
    if (jti is None) == (txn is None):
        raise click.UsageError("give exactly one of --jti and --txn")
    credentials = agent_credentials(workload_api, svid, svid_key)
    with AgentClient(socket, credentials=credentials) as client:
        result = client.revoke(jti=jti, txn=txn)
    body = {
        "revoked": jti or txn,
        "kind": "jti" if jti else "txn",
        "newly_revoked": result.newly_revoked,
        "expires_at": result.expires_at,
        "propagated": result.propagated,
    }
    said = f"revoked {body['kind']} {body['revoked']}"
    if not result.propagated:
        said += ": in force here, propagation pending"
    click.echo(json.dumps(body, sort_keys=True) if as_json else said)
    if not result.propagated:
        sys.exit(EXIT_PENDING)
