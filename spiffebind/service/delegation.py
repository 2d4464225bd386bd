"""Delegation as policy sees it: the claims a token would carry, read back as a request.

Issuance, exchange and every verification must judge a token alike, so the daemon asks
policy about the claims it is about to sign, through the same
:func:`~spiffebind.policy.request_from_claims` the verifier uses on what it receives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from spiffebind.errors import Reason, RequestRejected
from spiffebind.policy import Request, request_from_claims
from spiffebind.policy.evaluate import PolicyEngine
from spiffebind.token.mint import act_claim


def token_request(
    *,
    client_id: str,
    sub: str,
    actors: Sequence[str],
    audiences: Sequence[str],
    scopes: Sequence[str] = (),
    authorization_details: Sequence[Mapping[str, Any]] = (),
    requested_ttl: int | None = None,
) -> Request:
    """The policy request for a token with these claims (``actors`` outermost first)."""
    claims = {
        "client_id": client_id,
        "sub": sub,
        "aud": list(audiences),
        "scope": " ".join(scopes),
        "authorization_details": list(authorization_details),
        **({"act": act_claim(actors)} if actors else {}),
    }
    request = request_from_claims(claims)
    if request is None:
        raise RequestRejected(Reason.MALFORMED, "the requested token cannot be read as policy")
    return replace(request, requested_ttl=requested_ttl)


def check_may_act(
    policy: PolicyEngine,
    *,
    sub: str,
    actors: Sequence[str],
    audiences: Sequence[str],
    delegate: str | None,
) -> None:
    """A holder may name a delegate in ``may_act`` only if some rule would let that delegate
    act for it on these audiences (with any subset of scopes), so the claim never promises a
    delegation that policy would refuse."""
    if delegate is None:
        return
    request = token_request(
        client_id=delegate, sub=sub, actors=(delegate, *actors), audiences=audiences
    )
    decision = policy.decide(request)
    if not decision.allowed:
        raise RequestRejected(Reason.POLICY_DENIED, f"may_act {delegate!r}: {decision.reason}")
