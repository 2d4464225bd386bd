"""Which issuer a subject token claims to come from, and asking that issuer's keys or
introspection endpoint whether it really does."""

from __future__ import annotations

from collections.abc import Sequence

from spiffebind.clock import Clock
from spiffebind.errors import Reason, RejectedError
from spiffebind.upstream.fetch import read_location
from spiffebind.upstream.grant import UpstreamGrant, grant_from_claims, refused
from spiffebind.upstream.introspection import Introspector
from spiffebind.upstream.jwks import Fetch, JwksSource
from spiffebind.upstream.jwt import peek_issuer, validate_jwt
from spiffebind.upstream.settings import UpstreamIssuer


class UpstreamValidator:
    """Validates upstream tokens of the configured issuers; blocking (run it off the loop)."""

    def __init__(
        self,
        issuers: Sequence[UpstreamIssuer],
        *,
        clock: Clock,
        clock_skew: int,
        fetch: Fetch = read_location,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._clock = clock
        self._skew = clock_skew
        self._jwks = {
            i.issuer: JwksSource(
                i.jwks, timeout=i.timeout, cache_seconds=i.cache_seconds, clock=clock, fetch=fetch
            )
            for i in issuers
            if i.jwks is not None
        }
        self._introspectors = {
            i.issuer: Introspector(i.introspection, timeout=i.timeout)
            for i in issuers
            if i.introspection is not None
        }

    def issues(self, token: str) -> bool:
        """Whether the token claims (unverified) to come from a configured issuer."""
        try:
            return peek_issuer(token) in self._issuers
        except RejectedError:
            return False

    def validate(self, token: str) -> UpstreamGrant:
        """The grant, ExchangeRejected (invalid_request), or UpstreamUnavailable."""
        name = peek_issuer(token)
        issuer = self._issuers.get(name)
        if issuer is None:
            raise refused(Reason.UNTRUSTED_ISSUER, "the subject token's issuer is not configured")
        if name in self._jwks:
            return validate_jwt(
                token, issuer, self._jwks[name], now=self._clock.now(), skew=self._skew
            )
        claims = self._introspectors[name].claims(token)
        return grant_from_claims(claims, issuer, now=self._clock.now(), skew=self._skew)
