"""``spiffebind verify``: check a bound access token as a service would (cli.md, Service side).

``--socket`` asks the daemon (revocation and the live policy included); ``--offline`` runs
the token profile's checks in this process against bundle files, with no daemon (so
revocation and runtime policy are not consulted). Possession is shown by ``--peer-cert``
(mTLS) or by ``--dpop-proof`` with the request's ``--method`` and ``--uri`` (DPoP). Exit
codes: 0 valid, 1 rejected, 2 usage or configuration error; with ``--json`` stdout carries
exactly one JSON object.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from spiffebind import config as cfg
from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client.channel import open_channel
from spiffebind.client.errors import from_rpc_error
from spiffebind.clock import SystemClock
from spiffebind.errors import ConfigError, TokenRejected
from spiffebind.token import (
    MAX_TOKEN_BYTES,
    StaticBundles,
    VerifiedToken,
    Verifier,
    VerifierSettings,
)
from spiffebind.token.dpop import DpopRequest

EXIT_REJECTED = 1
STDIN = "-"


def _read_limited(stream: Any) -> bytes:
    """Enough bytes to decide: anything past the 8 KiB cap is rejected as malformed anyway."""
    data: bytes = stream.read(MAX_TOKEN_BYTES + 2)
    return data[:-1] if data.endswith(b"\n") else data


def _read_token(token: str | None, token_file: Path | None) -> str | bytes:
    """TOKEN, ``-`` (stdin) or ``--token-file``: exactly one; one final newline is dropped."""
    if (token is None) == (token_file is None):
        raise click.UsageError("give exactly one of TOKEN, - (stdin) or --token-file FILE")
    if token_file is not None:
        try:
            with token_file.open("rb") as stream:
                return _read_limited(stream)
        except OSError as exc:
            raise click.UsageError(f"--token-file {token_file}: {exc.strerror}") from None
    if token == STDIN:
        return _read_limited(sys.stdin.buffer)
    assert token is not None
    return token


def _load_pem_certs(option: str, path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{option} {path}: {exc}") from None
    return certs


def _dpop_request(opts: Mapping[str, Any]) -> DpopRequest | None:
    """``--dpop-proof`` with the request it came with; ``--body-file`` adds the body digest."""
    proof, method, uri, body = (opts[k] for k in ("dpop_proof", "method", "uri", "body_file"))
    if proof is None:
        if method or uri or body:
            raise click.UsageError("--method, --uri and --body-file go with --dpop-proof")
        return None
    if not method or not uri:
        raise click.UsageError("--dpop-proof needs the request's --method and --uri")
    if opts["peer_cert"] is not None:
        raise click.UsageError("give --peer-cert (mTLS) or --dpop-proof (DPoP), not both")
    digest = None
    if body is not None:
        try:
            digest = hashlib.sha256(body.read_bytes()).digest()
        except OSError as exc:
            raise click.UsageError(f"--body-file {body}: {exc.strerror}") from None
    return DpopRequest(proof, method, uri, digest)


def _offline_verifier(
    bundles: Sequence[str], issuers: Sequence[str], skew: int, life: int
) -> Verifier:
    if not bundles or not issuers:
        raise ConfigError("--offline needs at least one --bundle TD=PEM and one --issuer")
    by_domain = {
        td: _load_pem_certs("--bundle", path) for td, path in cfg.parse_bundle_args(bundles).items()
    }
    settings = VerifierSettings(
        cfg.parse_patterns("--issuer", issuers), clock_skew=skew, max_lifetime=life
    )
    return Verifier(settings, bundles=StaticBundles(by_domain), clock=SystemClock())


def _document(result: VerifiedToken | TokenRejected) -> dict[str, Any]:
    if isinstance(result, TokenRejected):
        return {"valid": False, "reason": result.reason.value}
    return {"valid": True, "claims": result.claims, "chain": list(result.chain)}


def _via_daemon(
    socket: Path,
    token: str | bytes,
    audience: str,
    peer: Sequence[x509.Certificate] | None,
    scopes: Sequence[str],
    detail_types: Sequence[str] = (),
    dpop: DpopRequest | None = None,
) -> dict[str, Any]:
    """The daemon's answer, so revocation and the live policy count too."""
    request = pb.VerifyTokenRequest(
        token=token.decode("utf-8", "replace") if isinstance(token, bytes) else token,
        audience=audience,
        peer_certificates=[c.public_bytes(serialization.Encoding.DER) for c in peer or ()],
        required_scopes=list(scopes),
        required_authorization_details=list(detail_types),
    )
    if dpop is not None:
        request.dpop.CopyFrom(
            pb.DpopProof(
                proof=str(dpop.proof),
                method=dpop.method,
                uri=dpop.uri,
                body_sha256=dpop.body_sha256 or b"",
            )
        )
    try:
        with open_channel(socket) as channel:
            reply = spiffebind_pb2_grpc.TokenServiceStub(channel).VerifyToken(request, timeout=10.0)
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
    nonce = {"dpop_nonce": reply.dpop_nonce} if reply.dpop_nonce else {}
    if not reply.valid:
        return {"valid": False, "reason": reply.reason, **nonce}
    claims = json.loads(reply.claims_json)
    return {"valid": True, "claims": claims, "chain": list(reply.chain), **nonce}


def _report(document: Mapping[str, Any], as_json: bool) -> None:
    if not document["valid"]:
        click.echo(f"spiffebind: token rejected: {document['reason']}", err=True)
    if as_json:
        click.echo(json.dumps(document, default=dict, sort_keys=True))
    elif document["valid"]:
        click.echo(f"valid: {' <- '.join(document['chain'])}")
    else:
        click.echo(f"rejected: {document['reason']}")


@click.command()
@click.argument("token", required=False)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the token from FILE (one final newline is ignored).",
)
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify through the daemon on this Unix socket (revocation and policy included).",
)
@click.option("--offline", is_flag=True, help="Verify in this process, without a daemon.")
@click.option(
    "--bundle", multiple=True, help="With --offline: TRUST_DOMAIN=PEM trust bundle; repeatable."
)
@click.option(
    "--issuer", multiple=True, help="With --offline: SPIFFE ID or ID/* pattern of token issuers."
)
@click.option("--audience", required=True, help="The audience this service expects (exact).")
@click.option(
    "--peer-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM the caller presented on mTLS, leaf first; without it the token is binding_missing.",
)
@click.option("--dpop-proof", help="The request's DPoP header: possession by DPoP, not mTLS.")
@click.option("--method", help="With --dpop-proof: the HTTP method of the request (htm).")
@click.option("--uri", help="With --dpop-proof: the absolute URI of the request (htu).")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --dpop-proof: the raw request body; the proof's content_digest must match it.",
)
@click.option("--scope", multiple=True, help="A scope the call needs; repeatable.")
@click.option(
    "--authorization-detail",
    "detail_types",
    multiple=True,
    metavar="TYPE",
    help="An RFC 9396 authorization_details type the call needs; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--clock-skew", type=int, default=30, show_default=True, help="Seconds of skew.")
@click.option(
    "--max-lifetime", type=int, default=3600, show_default=True, help="Longest exp - iat."
)
@click.pass_context
def verify(ctx: click.Context, /, **opts: Any) -> None:
    """Verify TOKEN (or - for stdin) for --audience, bound to --peer-cert or --dpop-proof.

    Exit 0 when valid, 1 when rejected (the reason code is printed), 2 on usage errors.
    """
    if not opts["offline"] and opts["socket"] is None:
        raise click.UsageError("give --socket PATH, or --offline with --bundle and --issuer")
    token = _read_token(opts["token"], opts["token_file"])
    dpop = _dpop_request(opts)
    try:
        peer = _load_pem_certs("--peer-cert", opts["peer_cert"]) if opts["peer_cert"] else None
        if opts["offline"]:
            verifier = _offline_verifier(
                opts["bundle"], opts["issuer"], opts["clock_skew"], opts["max_lifetime"]
            )
            try:
                document = _document(
                    verifier.verify(
                        token,
                        audience=opts["audience"],
                        presented_chain=peer,
                        required_scopes=opts["scope"],
                        required_detail_types=opts["detail_types"],
                        dpop=dpop,
                    )
                )
            except TokenRejected as exc:
                document = _document(exc)
        else:
            document = _via_daemon(
                opts["socket"],
                token,
                opts["audience"],
                peer,
                opts["scope"],
                opts["detail_types"],
                dpop,
            )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    _report(document, opts["as_json"])
    if not document["valid"]:
        ctx.exit(EXIT_REJECTED)
