"""Hydra's tokens exchanged for bound ones: what the daemon accepts from a real OAuth2
server, each way an upstream token is refused, and an issuer that does not answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Callable

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from exchangeflow import claims, grpc_failure, tool_verifies, user_token
from exchangesetup import ALICE_SECRET, DAEMON_ID, PLANNER_ID, SEARCH, USERS, Upstreams
from jwt.algorithms import RSAAlgorithm

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.api.v1 import spiffebind_pb2_grpc
from spiffebind.client import AgentClient
from spiffebind.errors import ExchangeRejected, UpstreamUnavailable
from spiffebind.testing.daemon import DaemonProcess
from spiffebind.testing.fake_oauth import FakeOAuthIssuer
from spiffebind.testing.poll import wait_for
from spiffebind.token import SigningIdentity, sign_request
from spiffebind.token.jose import b64url_encode
from spiffebind.token.proof import subject_token_sha256

pytestmark = pytest.mark.integration


def _segments(token: str) -> list[dict[str, object]]:
    return [
        json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2]
    ]


def _encode(value: object) -> str:
    return b64url_encode(json.dumps(value).encode())


def test_a_hydra_token_becomes_a_bound_token_for_the_user(
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    hydra_token = user_token(upstreams.hydra, "search:read", "search:write")
    hydra_exp = _segments(hydra_token)[1]["exp"]
    bound = agents[PLANNER_ID].exchange(hydra_token, SEARCH, ["search:read"], txn="up-1")
    got = claims(tool_verifies(exchange_daemon, bound.access_token, identities[PLANNER_ID]))
    assert (got["sub"], got["client_id"], got["act"]) == (
        f"{USERS}/alice",
        PLANNER_ID,
        {"sub": PLANNER_ID},
    )
    assert (got["scope"], got["iss"]) == ("search:read", DAEMON_ID)
    assert got["exp"] <= hydra_exp
    assert hydra_token not in exchange_daemon.log()
    assert hydra_token not in exchange_daemon.audit_log.read_text()


def test_rfc_7662_introspection_validates_the_other_hydras_tokens(
    exchange_daemon: DaemonProcess,
    agents: dict[str, AgentClient],
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    token = user_token(upstreams.introspected, "search:read")
    bound = agents[PLANNER_ID].exchange(token, SEARCH, txn="up-introspected")
    got = claims(tool_verifies(exchange_daemon, bound.access_token, identities[PLANNER_ID]))
    assert (got["sub"], got["scope"]) == (f"{USERS}/alice", "search:read")


def test_upstream_scopes_bound_the_grant(
    agents: dict[str, AgentClient], upstreams: Upstreams
) -> None:
    token = user_token(upstreams.hydra, "search:read")
    with pytest.raises(ExchangeRejected) as info:
        agents[PLANNER_ID].exchange(token, SEARCH, ["search:read", "search:write"])
    assert (info.value.reason.value, info.value.oauth.value) == (
        "insufficient_scope",
        "invalid_scope",
    )


def _tampered(upstreams: Upstreams) -> str:
    head, body, signature = user_token(upstreams.hydra, "search:read").split(".")
    claims = _segments(f"{head}.{body}")[1] | {"scp": ["search:read", "search:write", "admin"]}
    return f"{head}.{_encode(claims)}.{signature}"


def _short_lived(upstreams: Upstreams) -> str:
    """A real Hydra token whose client's access tokens live 1 s."""
    return upstreams.hydra.token(
        "alice-short", ALICE_SECRET, scopes=["search:read"], audience=[DAEMON_ID]
    )


def _other_audience(upstreams: Upstreams) -> str:
    return upstreams.hydra.token(
        "mallory", ALICE_SECRET, scopes=["search:read"], audience=["spiffe://example.org/other"]
    )


def _hmac_keyed_with_hydras_public_key(upstreams: Upstreams) -> str:
    """RS256 -> HS256 confusion: HMAC keyed with Hydra's public key (PEM), known to all."""
    head, body, _ = user_token(upstreams.hydra, "search:read").split(".")
    header = _segments(f"{head}.{body}")[0] | {"alg": "HS256"}
    with urllib.request.urlopen(upstreams.hydra.jwks_url, timeout=10) as answer:
        (jwk,) = [k for k in json.load(answer)["keys"] if k["kid"] == header["kid"]]
    public_pem = RSAAlgorithm.from_jwk(jwk).public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_encode(header)}.{body}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(signature)}"


def _alg_none(upstreams: Upstreams) -> str:
    head, body, _ = user_token(upstreams.hydra, "search:read").split(".")
    header = _segments(f"{head}.{body}")[0] | {"alg": "none"}
    return f"{_encode(header)}.{body}."


def _unknown_issuer(upstreams: Upstreams) -> str:
    return FakeOAuthIssuer("http://127.0.0.1:9/unknown").token(aud=[DAEMON_ID])


def _es256_with_hydras_iss(upstreams: Upstreams) -> str:
    """Signed with a key Hydra never had, in an alg the issuer config does not allow."""
    fake = FakeOAuthIssuer(upstreams.hydra.issuer)
    return fake.token(alg="ES256", aud=[DAEMON_ID], scope="search:read")


REFUSALS: list[tuple[str, Callable[[Upstreams], str], str]] = [
    ("tampered", _tampered, "bad_signature"),
    ("other-audience", _other_audience, "audience_mismatch"),
    ("hs256-with-public-key", _hmac_keyed_with_hydras_public_key, "unsupported_alg"),
    ("alg-none", _alg_none, "unsupported_alg"),
    ("es256-not-allowed", _es256_with_hydras_iss, "unsupported_alg"),
    ("unknown-issuer", _unknown_issuer, "untrusted_issuer"),
]


@pytest.mark.parametrize(("defect", "make", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_upstream_tokens_are_refused_as_invalid_request(
    agents: dict[str, AgentClient],
    upstreams: Upstreams,
    defect: str,
    make: Callable[[Upstreams], str],
    reason: str,
) -> None:
    with pytest.raises(ExchangeRejected) as info:
        agents[PLANNER_ID].exchange(make(upstreams), SEARCH, ["search:read"])
    assert (info.value.reason.value, info.value.oauth.value) == (reason, "invalid_request")


def test_an_expired_hydra_token_is_refused(
    agents: dict[str, AgentClient], upstreams: Upstreams
) -> None:
    token = _short_lived(upstreams)

    def refused() -> str:
        try:
            agents[PLANNER_ID].exchange(token, SEARCH, ["search:read"])
        except ExchangeRejected as exc:
            return f"{exc.reason.value}/{exc.oauth.value}"
        return ""

    assert wait_for(refused, timeout=15, what="the 1 s Hydra token to expire", interval=0.25) == (
        "expired/invalid_request"
    )


def test_the_wire_carries_the_oauth_error_next_to_the_status(
    exchange_daemon: DaemonProcess,
    identities: dict[str, SigningIdentity],
    upstreams: Upstreams,
) -> None:
    token = _other_audience(upstreams)
    params = {
        "op": "exchange",
        "audience": SEARCH,
        "subject_token_sha256": subject_token_sha256(token),
    }
    proof = sign_request(
        identities[PLANNER_ID], daemon_id=DAEMON_ID, params=params, now=time.time()
    )
    with grpc.insecure_channel(f"unix:{exchange_daemon.socket}") as channel:
        stub = spiffebind_pb2_grpc.TokenServiceStub(channel)
        code, trailing, _ = grpc_failure(
            lambda: stub.ExchangeToken(
                pb.ExchangeTokenRequest(signed_request=proof, subject_token=token), timeout=10
            )
        )
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert trailing["spiffebind-oauth-error"] == "invalid_request"
    assert trailing["spiffebind-reason"] == "audience_mismatch"


@pytest.mark.parametrize("which", ["refusing", "silent"])
def test_an_issuer_that_does_not_answer_is_unavailable_not_a_hang(
    exchange_daemon: DaemonProcess,
    identities: dict[str, SigningIdentity],
    agents: dict[str, AgentClient],
    upstreams: Upstreams,
    which: str,
) -> None:
    issuer = getattr(upstreams, which)
    token = FakeOAuthIssuer(issuer).token(aud=[DAEMON_ID], scope="search:read")
    with pytest.raises(UpstreamUnavailable) as info:
        agents[PLANNER_ID].exchange(token, SEARCH)
    assert f"{issuer}/.well-known/jwks.json is unreachable" in str(info.value)
