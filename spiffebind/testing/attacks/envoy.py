"""The corpus as Envoy's ext_authz filter would send it: the token in an
``Authorization: Bearer`` header, the presented chain as Envoy's URL-encoded PEM, the
audience and scopes in per-route ``context_extensions``.

A case must get the same reason code as from ``VerifyToken``. Behind Envoy the code is the
``CheckResponse`` status message, and the client sees it as the challenge's
``error_description`` (docs/ext-authz.md, "Answers").
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from envoy.service.auth.v3 import external_auth_pb2 as authz
from google.rpc import code_pb2

from spiffebind.api.ext_authz_map import check_response, http_check
from spiffebind.service.ext_authz import ExtAuthz
from spiffebind.service.ext_authz_routes import CONTEXT_PREFIX
from spiffebind.testing.attacks.kit import VALID, Attempt, Materials
from spiffebind.testing.envoy import check_request

_DESCRIPTION = re.compile(r'error_description="([^"]*)"')


def envoy_request(m: Materials, attempt: Attempt) -> authz.CheckRequest:
    """The attempt as Envoy asks: Bearer and the peer certificate, or DPoP with its proof
    header, method, host, path and body."""
    presented = (m.agent.cert,) if attempt.presented is None else attempt.presented
    context = {f"{CONTEXT_PREFIX}audience": attempt.audience or m.audience}
    if attempt.scopes:
        context[f"{CONTEXT_PREFIX}scopes"] = " ".join(attempt.scopes)
    peer_pem = b"".join(c.public_bytes(Encoding.PEM) for c in presented)
    d = attempt.dpop
    if d is None:
        headers = {"authorization": f"Bearer {attempt.token}"}
        return check_request(
            path="/search/q", headers=headers, peer_pem=peer_pem, context_extensions=context
        )
    headers = {"authorization": f"DPoP {attempt.token}", **({"dpop": d.proof} if d.proof else {})}
    return check_request(
        method=d.method,
        path=d.path,
        host=d.host,
        headers=headers,
        peer_pem=peer_pem,
        context_extensions=context,
        body=d.body or b"",
    )


def answer_verdict(response: Any) -> str:
    """``valid``, or the reason code of a denial, which its challenge must not contradict."""
    if response.status.code == code_pb2.OK:
        return VALID
    reason = str(response.status.message)
    challenges = " ".join(
        option.header.value
        for option in response.denied_response.headers
        if option.header.key == "www-authenticate"
    )
    described = _DESCRIPTION.findall(challenges)
    if described not in ([], [reason]):
        raise AssertionError(f"challenge {challenges!r} contradicts the reason {reason!r}")
    return reason


def ext_authz_verdict(service: ExtAuthz, m: Materials, attempt: Attempt) -> str:
    """What ext_authz answers in-process (to the last send), through the same message
    mapping as its socket."""
    request = envoy_request(m, attempt)
    answers = [
        answer_verdict(check_response(service.check(http_check(request))))
        for _ in range(attempt.dpop.sends if attempt.dpop else 1)
    ]
    return answers[-1]
