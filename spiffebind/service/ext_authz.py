"""Envoy ext_authz as a use case: one HTTP request in, one allow-or-deny verdict out.

The same :class:`Verifier` as ``VerifyToken`` decides; this module only finds what the request
needs (its route), what it presents (bearer token, client certificate), and says the outcome
the RFC 6750 way: 401 with a ``Bearer`` challenge for a missing or bad token, 403 for too
little authority or an unknown route. A token in the ``DPoP`` scheme is checked with its
``DPoP`` proof against the request Envoy describes, and answered with ``DPoP`` challenges
(RFC 9449 sections 7.1 and 9). Nothing here knows about protobuf or gRPC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from spiffebind.errors import ConfigError, DpopNonceRequired, Reason, RejectedError, TokenRejected
from spiffebind.service.ext_authz_credentials import (
    DPOP,
    Presented,
    access_token,
    forwarded_client,
    pem_chain,
    verify_presented,
)
from spiffebind.service.ext_authz_routes import (
    CONTEXT_PREFIX,
    ExtAuthzSettings,
    Route,
    match_route,
    request_host,
    request_path,
    route_from_context,
)
from spiffebind.token import VerifiedToken, Verifier, thumbprint
from spiffebind.token.cache import Lru
from spiffebind.token.dpop import DPOP_ALGS, DpopRequest

XFCC = "x-forwarded-client-cert"
NONCE_HEADER = "dpop-nonce"
PARTIAL_BODY = "x-envoy-auth-partial-body"
HEADER_PREFIX = "x-spiffebind-"
# Header values are visible ASCII; anything else (and "%" itself) is percent-encoded.
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


@dataclass(frozen=True)
class HttpCheck:
    """What Envoy says about one request; header names lower-case."""

    method: str = ""
    path: str = ""
    host: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    certificate: str = ""
    context: Mapping[str, str] = field(default_factory=dict)
    scheme: str = "https"
    body: bytes = b""  # only when Envoy is configured to send it (with_request_body)

    def dpop(self) -> DpopRequest:
        """The DPoP proof with the request it came with; the body digest only for a whole
        body (a partial one cannot match the client's ``content_digest``)."""
        whole = self.body and self.headers.get(PARTIAL_BODY, "").lower() != "true"
        return DpopRequest(
            self.headers.get("dpop", ""),
            self.method,
            f"{self.scheme}://{self.host}{self.path}",
            hashlib.sha256(self.body).digest() if whole else None,
        )


@dataclass(frozen=True)
class Verdict:
    """``status`` 200 (allowed, ``outcome`` the verified token) or 401/403/503 (``outcome``
    the rejection, ``challenge`` the ``WWW-Authenticate`` value or empty)."""

    status: int
    outcome: VerifiedToken | RejectedError
    route: Route | None = None
    presenter_x5t: str = ""
    challenge: str = ""
    set_headers: tuple[tuple[str, str], ...] = ()
    remove_headers: tuple[str, ...] = ()
    deny_headers: tuple[tuple[str, str], ...] = ()  # beside WWW-Authenticate, e.g. DPoP-Nonce
    response_headers: tuple[tuple[str, str], ...] = ()  # to the client on success: DPoP-Nonce

    @property
    def allowed(self) -> bool:
        return isinstance(self.outcome, VerifiedToken)

    @property
    def reason(self) -> str:
        return self.outcome.reason.value if isinstance(self.outcome, RejectedError) else ""


def challenge(
    error: str, description: str, scopes: tuple[str, ...] = (), *, scheme: str = "Bearer"
) -> str:
    """An RFC 6750 section 3 challenge, or RFC 9449 section 7.1's for ``DPoP`` (with the
    ``algs`` we accept); our values never need escaping (codes, RFC 6749 scope tokens)."""
    scope = f', scope="{" ".join(scopes)}"' if scopes else ""
    algs = f', algs="{DPOP_ALGS}"' if scheme == DPOP else ""
    return f'{scheme} error="{error}", error_description="{description}"{scope}{algs}'


def refusal(reason: Reason, scopes: tuple[str, ...], scheme: str) -> tuple[int, str, str]:
    """The HTTP answer to a rejection, for ext_authz and the in-process adapters alike: the
    status, the OAuth ``error`` and the ``WWW-Authenticate`` challenge (none for 503: the
    token may be fine once revocations are known again, so the client should retry)."""
    if reason is Reason.REVOCATION_UNAVAILABLE:
        return 503, "temporarily_unavailable", ""
    if reason is Reason.INSUFFICIENT_SCOPE:
        error = "insufficient_scope"
        return 403, error, challenge(error, reason, scopes, scheme=scheme)
    error = "invalid_dpop_proof" if reason is Reason.PROOF_INVALID else "invalid_token"
    return 401, error, challenge(error, reason, scheme=scheme)


def check_details_type(claims: Mapping[str, Any], required: str) -> None:
    """The route's RFC 9396 type must be among the token's ``authorization_details``."""
    if required and not any(d["type"] == required for d in claims.get("authorization_details", ())):
        raise TokenRejected(Reason.INSUFFICIENT_SCOPE, f"no authorization_details {required!r}")


def upstream_headers(verified: VerifiedToken) -> tuple[tuple[str, str], ...]:
    """``x-spiffebind-*`` for the upstream service: who is calling, for whom, with what."""
    c = verified.claims
    values = {
        "sub": c["sub"],
        "client-id": c["client_id"],
        "scope": c.get("scope", ""),
        "chain": ",".join(verified.chain),
        "txn": c.get("txn", ""),
        "jti": c["jti"],
    }
    return tuple((HEADER_PREFIX + k, quote(v, safe=_SAFE)) for k, v in values.items() if v)


CONTEXT_ROUTES = 256
"""Distinct ``context_extensions`` remembered: Envoy sends one fixed set per route."""


class ExtAuthz:
    def __init__(self, verifier: Verifier, settings: ExtAuthzSettings) -> None:
        self._verifier = verifier
        self._settings = settings
        self._context_routes: Lru[tuple[tuple[str, str], ...], Route] = Lru(CONTEXT_ROUTES)

    def check(self, request: HttpCheck) -> Verdict:
        """Route, then credentials, then the verifier: the first failure decides."""
        try:
            route = self._route(request)
        except TokenRejected as exc:
            return Verdict(403, exc)
        authorization = request.headers.get("authorization")
        if authorization is None:
            missing = TokenRejected(Reason.MALFORMED, "no access token")
            return Verdict(401, missing, route, challenge="Bearer")
        try:
            scheme, token = access_token(authorization)
        except TokenRejected as exc:
            return Verdict(401, exc, route, challenge=challenge("invalid_request", exc.reason))
        presenter = ""
        try:
            if scheme == DPOP:
                verified = self._verify(token, route, request.dpop())
            else:
                presented = self._presented(request)
                presenter = thumbprint(presented.chain[0]) if presented.chain else presented.x5t
                verified = self._verify(token, route, presented)
        except RejectedError as exc:
            return self._denied(exc, route, presenter, scheme)
        sets = upstream_headers(verified)
        kept = {name for name, _ in sets}
        removed = [h for h in request.headers if h.startswith(HEADER_PREFIX) and h not in kept]
        if not self._settings.keep_authorization:
            removed.extend(("authorization", "dpop") if scheme == DPOP else ("authorization",))
        nonce = self._verifier.dpop_nonce() if scheme == DPOP else None
        return Verdict(
            200,
            verified,
            route,
            presenter,
            set_headers=sets,
            remove_headers=tuple(removed),
            response_headers=((NONCE_HEADER, nonce),) if nonce else (),
        )

    def _route(self, request: HttpCheck) -> Route:
        """Envoy's context extensions, else the route table; what neither covers is denied."""
        if any(name.startswith(CONTEXT_PREFIX) for name in request.context):
            return self._context_route(request.context)
        path, host = request_path(request.path), request_host(request.host)
        route = match_route(self._settings.routes, host, path) if path and host else None
        if route is None:
            raise TokenRejected(Reason.POLICY_DENIED, "no ext_authz route covers the request")
        return route

    def _context_route(self, context: Mapping[str, str]) -> Route:
        """Parsed once per distinct set of extensions (a pure function of them); a set that
        does not parse is refused every time and never remembered."""
        key = tuple(sorted(context.items()))
        route = self._context_routes.get(key)
        if route is None:
            try:
                route = route_from_context(context)
            except ConfigError as exc:
                raise TokenRejected(Reason.POLICY_DENIED, str(exc)) from None
            self._context_routes.put(key, route)
        return route

    def _presented(self, request: HttpCheck) -> Presented:
        if self._settings.trust_xfcc:
            xfcc = request.headers.get(XFCC, "")
            return forwarded_client(xfcc) if xfcc else Presented()
        return Presented(chain=pem_chain(request.certificate))

    def _verify(
        self, token: str, route: Route, presented: Presented | DpopRequest
    ) -> VerifiedToken:
        verified = verify_presented(
            self._verifier, token, audience=route.audience, presented=presented, scopes=route.scopes
        )
        check_details_type(verified.claims, route.authorization_details_type)
        return verified

    @staticmethod
    def _denied(exc: RejectedError, route: Route, presenter: str, scheme: str) -> Verdict:
        """:func:`refusal`'s answer; a demanded DPoP nonce (RFC 9449 section 9) is 401
        ``use_dpop_nonce`` with the nonce to use."""
        if isinstance(exc, DpopNonceRequired):
            nonce = challenge("use_dpop_nonce", exc.reason, scheme=DPOP)
            return Verdict(
                401, exc, route, presenter, nonce, deny_headers=((NONCE_HEADER, exc.nonce),)
            )
        status, _, answer = refusal(exc.reason, route.scopes, scheme)
        return Verdict(status, exc, route, presenter, answer)
