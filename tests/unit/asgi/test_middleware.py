"""The ASGI middleware's own behaviour (the corpus runs in tests/security): what reaches the
app, RFC 6750 answers, XFCC only when trusted, 503 when revocations are stale."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from adapterkit import Recorder, request, tool_verifier
from cryptography.hazmat.primitives.serialization import Encoding

from spiffebind.asgi import SCOPE_KEY, SpiffebindMiddleware, verified_token
from spiffebind.testing.attacks import InProcess
from spiffebind.verifier import RevocationMirror


def guarded(world: InProcess, **options: object) -> tuple[SpiffebindMiddleware, Recorder]:
    app = Recorder()
    return SpiffebindMiddleware(app, verifier=tool_verifier(world), **options), app  # type: ignore[arg-type]


def bearer(world: InProcess) -> tuple[str, str]:
    return ("Authorization", f"Bearer {world.materials.token()}")


def test_the_holder_reaches_the_app_with_the_verified_token(world: InProcess) -> None:
    middleware, app = guarded(world, scopes=["search:read"])
    status, _, _ = request(middleware, headers=[bearer(world)], chain=[world.materials.agent.cert])
    assert status == 200
    assert verified_token(app.scopes[0]).claims["client_id"] == world.materials.agent_id


def test_without_credentials_the_challenge_is_bare(world: InProcess) -> None:
    middleware, app = guarded(world)
    status, headers, body = request(middleware, chain=[world.materials.agent.cert])
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    assert json.loads(body) == {"error": "invalid_request", "error_description": "malformed"}
    assert app.scopes == []


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Basic dXNlcjpwdw==")],
        [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")],
    ],
    ids=["other-scheme", "repeated"],
)
def test_a_credential_that_is_not_one_bearer_token_is_malformed(
    world: InProcess, headers: list[tuple[str, str]]
) -> None:
    middleware, _ = guarded(world)
    status, answer, _ = request(middleware, headers=headers, chain=[world.materials.agent.cert])
    assert status == 401
    assert answer["www-authenticate"] == (
        'Bearer error="invalid_request", error_description="malformed"'
    )


def test_tls_pem_that_does_not_parse_is_presenter_mismatch(world: InProcess) -> None:
    middleware, _ = guarded(world)
    status, _, body = request(middleware, headers=[bearer(world)], tls_pems=["-----BEGIN junk"])
    assert (status, json.loads(body)["error_description"]) == (401, "presenter_mismatch")


def test_exempt_paths_and_other_scope_types_pass_untouched(world: InProcess) -> None:
    middleware, app = guarded(world, exempt=["/healthz"])
    assert request(middleware, path="/healthz")[0] == 200
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert [s["type"] for s in app.scopes] == ["http", "lifespan"]
    assert SCOPE_KEY not in app.scopes[0]


def xfcc_of(world: InProcess) -> tuple[str, str]:
    agent = world.materials.agent.cert
    digest = hashlib.sha256(agent.public_bytes(Encoding.DER)).hexdigest()
    return ("X-Forwarded-Client-Cert", f"Hash={digest};URI={world.materials.agent_id}")


def test_xfcc_counts_only_when_trusted(world: InProcess) -> None:
    untrusting, _ = guarded(world)
    status, _, body = request(untrusting, headers=[bearer(world), xfcc_of(world)])
    assert (status, json.loads(body)["error_description"]) == (401, "binding_missing")
    trusting, _ = guarded(world, trust_xfcc=True)
    assert request(trusting, headers=[bearer(world), xfcc_of(world)])[0] == 200


def test_stale_revocations_answer_503_without_a_challenge(world: InProcess, tmp_path: Path) -> None:
    never_synced = RevocationMirror(tmp_path / "no-daemon.sock", stale_after=1)
    middleware = SpiffebindMiddleware(Recorder(), verifier=tool_verifier(world, never_synced))
    status, headers, body = request(
        middleware, headers=[bearer(world)], chain=[world.materials.agent.cert]
    )
    assert (status, "www-authenticate" in headers) == (503, False)
    assert json.loads(body) == {
        "error": "temporarily_unavailable",
        "error_description": "revocation_unavailable",
    }


def test_verified_token_outside_the_middleware_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        verified_token({"type": "http"})
