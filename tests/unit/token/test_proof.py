"""Signed requests (token-profile section 2): who is asking, for what, exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from tokenkit import AGENT_ID, NOW, SIGNER_ID, World, b64u, raw_sign, seg, x5c

from spiffebind.errors import Reason, RequestRejected
from spiffebind.testing.pki import Issued
from spiffebind.token import (
    REQUEST_TYP,
    ChainCache,
    ReplayCache,
    SigningIdentity,
    check_request,
    sign_request,
)
from spiffebind.token.proof import SignedRequest

DAEMON_ID = SIGNER_ID
PARAMS = {"audience": "spiffe://example.org/tools/search", "scopes": ["search:read"], "ttl": 60}


def _sign(world: World, caller: Issued | None = None, **kwargs: Any) -> str:
    caller = caller or world.agent
    args: dict[str, Any] = {"daemon_id": DAEMON_ID, "params": PARAMS, "now": NOW}
    return sign_request(SigningIdentity(tuple(caller.chain), caller.key), **{**args, **kwargs})


def _forge(world: World, claims: dict[str, Any], *, key: Any = None, **header: Any) -> str:
    h = {"alg": "ES256", "typ": REQUEST_TYP, "x5c": x5c(world.agent.chain), **header}
    c = {"aud": DAEMON_ID, "iat": NOW, "jti": "A" * 22, **claims}
    signing_input = f"{seg(h)}.{seg(c)}"
    return f"{signing_input}.{b64u(raw_sign(key or world.agent.key, signing_input.encode()))}"


def _check(
    world: World, proof: str, *, now: float = NOW, replay: ReplayCache | None = None
) -> SignedRequest:
    return check_request(
        proof,
        daemon_id=DAEMON_ID,
        bundles=world.bundles,
        now=now,
        replay=replay if replay is not None else ReplayCache(),
    )


def _reason(world: World, proof: str, **kwargs: Any) -> str:
    try:
        _check(world, proof, **kwargs)
    except RequestRejected as exc:
        return exc.reason.value
    return "valid"


def test_round_trip(world: World) -> None:
    request = _check(world, _sign(world))
    assert request.caller_id == AGENT_ID
    assert request.caller_cert == world.agent.cert
    assert request.caller_chain == (world.agent.cert, world.inter.cert)
    assert request.params == PARAMS | {"scopes": ("search:read",)}
    assert request.iat == NOW
    assert len(request.jti) == 22


def test_identity_comes_from_x5c_not_params(world: World) -> None:
    proof = _sign(world, params={"client_id": "spiffe://example.org/admin"})
    assert _check(world, proof).caller_id == AGENT_ID


def test_replay_is_refused(world: World) -> None:
    replay, proof = ReplayCache(), _sign(world)
    assert _reason(world, proof, replay=replay) == "valid"
    assert _reason(world, proof, replay=replay, now=NOW + 30) == "replayed"


def test_same_jti_from_two_callers_is_not_a_replay(world: World) -> None:
    replay = ReplayCache()
    fixed: dict[str, Any] = {"random_bytes": lambda n: b"\x01" * n}
    assert _reason(world, _sign(world, **fixed), replay=replay) == "valid"
    assert _reason(world, _sign(world, world.service, **fixed), replay=replay) == "valid"


def test_rejected_proof_does_not_burn_its_jti(world: World) -> None:
    replay = ReplayCache()
    assert _reason(world, _forge(world, {"aud": "spiffe://x.org/d"}), replay=replay) != "valid"
    assert _reason(world, _forge(world, {}), replay=replay) == "valid"


def test_full_replay_cache_refuses_rather_than_forgets(world: World) -> None:
    replay = ReplayCache(capacity=1)
    assert _reason(world, _sign(world), replay=replay) == "valid"
    assert _reason(world, _sign(world), replay=replay) == "replayed"
    assert _reason(world, _sign(world, now=NOW + 61), replay=replay, now=NOW + 61) == "valid"


@pytest.mark.parametrize(
    ("iat", "expected"),
    [
        (NOW - 120, "expired"),
        (NOW - 60, "valid"),
        (NOW + 60, "valid"),
        (NOW + 120, "not_yet_valid"),
    ],
    ids=["stale", "window-start", "window-end", "future"],
)
def test_iat_window(world: World, iat: int, expected: str) -> None:
    assert _reason(world, _forge(world, {"iat": iat})) == expected


DEFECTS: dict[str, tuple[Any, str]] = {
    "wrong-aud": (
        lambda w: _sign(w, daemon_id="spiffe://example.org/spiffebind/node-2"),
        "audience_mismatch",
    ),
    "cert-key-mismatch": (lambda w: _forge(w, {}, key=w.sibling.key), "bad_signature"),
    "untrusted-trust-domain": (
        lambda w: _sign(w, w.rogue.issue("spiffe://third.org/agent")),
        "untrusted_signer",
    ),
    "rogue-ca-our-name": (lambda w: _sign(w, w.rogue.issue(AGENT_ID)), "untrusted_signer"),
    "oversized": (lambda w: _sign(w, params={"pad": "A" * 9000}), "malformed"),
    "access-token-as-proof": (lambda w: w.forge(), "wrong_type"),
    "typ-missing": (lambda w: _forge(w, {}, typ=None), "wrong_type"),
    "forbidden-jku": (lambda w: _forge(w, {}, jku="https://x"), "forbidden_header"),
    "alg-mismatch": (lambda w: _forge(w, {}, alg="ES384"), "unsupported_alg"),
    "jti-missing": (lambda w: _forge(w, {"jti": None}), "malformed"),
    "iat-string": (lambda w: _forge(w, {"iat": str(NOW)}), "malformed"),
    "garbage": (lambda w: "not a proof", "malformed"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_defective_proof(world: World, defect: str) -> None:
    build, expected = DEFECTS[defect]
    assert _reason(world, build(world)) == expected


def test_reserved_params_refused_when_signing(world: World) -> None:
    with pytest.raises(RequestRejected) as info:
        _sign(world, params={"aud": "x"})
    assert info.value.reason is Reason.MALFORMED


def test_cached_chain_still_follows_bundle_changes(world: World) -> None:
    chains, proof = ChainCache(), _sign(world)
    ok = check_request(
        proof,
        daemon_id=DAEMON_ID,
        bundles=world.bundles,
        now=NOW,
        replay=ReplayCache(),
        chains=chains,
    )
    assert ok.caller_id == AGENT_ID
    with pytest.raises(RequestRejected) as info:
        check_request(
            proof,
            daemon_id=DAEMON_ID,
            bundles={"example.org": [world.rogue.cert]},
            now=NOW,
            replay=ReplayCache(),
            chains=chains,
        )
    assert info.value.reason is Reason.UNTRUSTED_SIGNER
