"""Access-token verification: the ordered checks of token-profile section 3.

Each step is one function, called in the profile's order, so a token with two defects is
always rejected for the earlier one. Everything the checks need from the world (time,
bundles, revocation, policy) is injected through the narrow protocols below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from cryptography import x509

from spiffebind.clock import Clock
from spiffebind.errors import ConfigError, Reason, RejectedError, TokenRejected
from spiffebind.spiffeid import IdPattern
from spiffebind.token.cache import ChainCache, ReplayCache, SignatureCache
from spiffebind.token.chain import TrustBundles, ValidatedChain, validate_chain
from spiffebind.token.claims import (
    audiences,
    check_access_claims,
    delegation_chain,
    detail_types,
    scopes,
)
from spiffebind.token.dpop import DEFAULT_WINDOW, DpopRequest, NonceSource, ProofRules, check_proof
from spiffebind.token.jose import MAX_TOKEN_BYTES, parse_compact
from spiffebind.token.proof import ReplayGuard
from spiffebind.token.signed import authenticate, check_header_shape, rejecting
from spiffebind.token.svid import thumbprint

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type, not a secret


class BundleSource(Protocol):
    """Where the verifier finds trust: the X.509 bundles in force, read per verification."""

    def bundles(self) -> TrustBundles:
        """The current X.509 authorities by trust-domain name."""
        ...


class RevocationCheck(Protocol):
    """Whether a token, by its ``jti`` or its task ``txn``, was revoked (step 14)."""

    def is_revoked(self, jti: str, txn: str | None) -> bool: ...


class FeedCheck(Protocol):
    def vouches(self) -> bool:
        """Whether this verifier's revocations are recent enough to call a token not revoked
        (the cluster feed is in sync, or out of sync for less than its staleness limit)."""
        ...


class PolicyCheck(Protocol):
    """The policy in force, asked again at verification (a grant removed since issue)."""

    def allows(self, claims: Mapping[str, Any]) -> bool:
        """Whether the current policy still grants what the token carries."""
        ...


@dataclass(frozen=True)
class StaticBundles:
    """A fixed set of bundles, for offline verification and tests."""

    by_domain: TrustBundles

    def bundles(self) -> TrustBundles:
        return self.by_domain


@dataclass(frozen=True)
class VerifierSettings:
    """What a verifier accepts; immutable, so a reload builds a new verifier."""

    issuers: tuple[IdPattern, ...]
    clock_skew: int = 30
    max_lifetime: int = 3600
    intermediates: tuple[x509.Certificate, ...] = ()
    dpop_window: int = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if not self.issuers:
            raise ConfigError("a verifier needs at least one issuer pattern")
        if self.clock_skew < 0 or self.max_lifetime <= 0:
            raise ConfigError("clock skew must be >= 0 and max lifetime > 0")
        if self.dpop_window <= 0:
            raise ConfigError("the DPoP iat window must be > 0")


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed every check.

    ``claims`` are deep read-only (objects are Mappings, arrays tuples; ``json.dumps(...,
    default=dict)`` serializes them); ``chain`` is ``(sub, actors outermost first...)``.
    One instance is shared by every verification of the same cached token, so what derives
    from the claims alone is computed once.
    """

    claims: Mapping[str, Any]
    chain: tuple[str, ...]
    signer_id: str

    @cached_property
    def claims_json(self) -> str:
        """The claims as compact JSON with sorted keys."""
        return json.dumps(self.claims, default=dict, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class _Needs:
    """What the resource server asks of the token (step 16)."""

    scopes: tuple[str, ...] = ()
    detail_types: tuple[str, ...] = ()


_Binding = tuple[x509.Certificate, ...] | DpopRequest | None
"""How the caller proves possession: its certificate chain, a DPoP proof, or not at all."""


@dataclass(frozen=True)
class _Signed:
    """Steps 1-8 passed: the claims, their signer, and the result every later check yields."""

    claims: Mapping[str, Any]
    signer: ValidatedChain
    verified: VerifiedToken


def _reject(reason: Reason, detail: str) -> RejectedError:
    return RejectedError(reason, detail)


def check_issuer_claim(claims: Mapping[str, Any], signer: ValidatedChain) -> None:
    """Step 8."""
    if claims["iss"] != signer.spiffe_id:
        raise _reject(Reason.ISSUER_MISMATCH, "iss is not the x5c leaf's SPIFFE ID")


def check_time(claims: Mapping[str, Any], now: float, settings: VerifierSettings) -> None:
    """Step 9: expiry, then not-before, then the lifetime cap; skew on both edges."""
    skew = settings.clock_skew
    if now >= claims["exp"] + skew:
        raise _reject(Reason.EXPIRED, "token has expired")
    if max(claims["iat"], claims.get("nbf", claims["iat"])) > now + skew:
        raise _reject(Reason.NOT_YET_VALID, "token is not valid yet")
    if claims["exp"] - claims["iat"] > settings.max_lifetime:
        raise _reject(Reason.LIFETIME_TOO_LONG, "exp - iat exceeds the maximum lifetime")


def check_audience(claims: Mapping[str, Any], audience: str) -> None:
    """Step 10: exact match against any member of ``aud``."""
    if audience not in audiences(claims):
        raise _reject(Reason.AUDIENCE_MISMATCH, f"token is not for {audience}")


def _bound(claims: Mapping[str, Any], member: str) -> str:
    cnf = claims.get("cnf")
    bound = cnf.get(member) if isinstance(cnf, Mapping) else None
    if not isinstance(bound, str) or not bound:
        raise _reject(Reason.BINDING_MISSING, f"token has no cnf.{member}")
    return bound


def bound_thumbprint(claims: Mapping[str, Any]) -> str:
    """Step 11, first half: the ``cnf.x5t#S256`` the token is bound to."""
    return _bound(claims, "x5t#S256")


def bound_key(claims: Mapping[str, Any]) -> str:
    """Step 11 for DPoP: the ``cnf.jkt`` a proof's key must have."""
    return _bound(claims, "jkt")


def check_binding_present(claims: Mapping[str, Any], presented: Sequence[x509.Certificate]) -> str:
    """Step 11: a bound token and a certificate to hold it against."""
    bound = bound_thumbprint(claims)
    if not presented:
        raise _reject(Reason.BINDING_MISSING, "no presented certificate")
    return bound


def check_binding_match(bound: str, presented_x5t: str, what: str = "certificate") -> None:
    """Step 12: constant-time, and no normalization of either side."""
    if not hmac.compare_digest(presented_x5t.encode(), bound.encode()):
        raise _reject(Reason.BINDING_MISMATCH, f"presented {what} is not the bound one")


def check_presenter(claims: Mapping[str, Any], presenter: ValidatedChain) -> None:
    """Step 13, second half (the first half is validating the presented chain)."""
    if presenter.spiffe_id != claims["client_id"]:
        raise _reject(Reason.PRESENTER_MISMATCH, "presenter is not the token's client_id")


def check_revocation(claims: Mapping[str, Any], revocation: RevocationCheck | None) -> None:
    """Step 14; None means revocation is not consulted (offline verification)."""
    if revocation is not None and revocation.is_revoked(claims["jti"], claims.get("txn")):
        raise _reject(Reason.REVOKED, "token or its task was revoked")


def check_revocation_fresh(feed: FeedCheck | None) -> None:
    """Step 14a: right after ``revoked``, so a token known revoked is reported as such even
    while the feed is stale; None means node-local mode (the local store is complete)."""
    if feed is not None and not feed.vouches():
        raise _reject(Reason.REVOCATION_UNAVAILABLE, "revocations from other nodes are stale")


def check_policy(claims: Mapping[str, Any], policy: PolicyCheck | None) -> None:
    """Step 15; None means no runtime policy is consulted."""
    if policy is not None and not policy.allows(claims):
        raise _reject(Reason.POLICY_DENIED, "policy no longer allows this token")


def check_scopes(claims: Mapping[str, Any], required: Sequence[str]) -> None:
    """Step 16."""
    if not required:  # nothing can be missing: the claim need not be read
        return
    missing = set(required) - scopes(claims)
    if missing:
        raise _reject(Reason.INSUFFICIENT_SCOPE, f"missing scope {sorted(missing)[0]!r}")


def check_detail_types(claims: Mapping[str, Any], required: Sequence[str]) -> None:
    """Step 16 for RFC 9396: the verifier needs an ``authorization_details`` entry of each
    required type, as it needs each required scope."""
    if not required:
        return
    missing = set(required) - detail_types(claims)
    if missing:
        raise _reject(
            Reason.INSUFFICIENT_SCOPE, f"no authorization_details of type {sorted(missing)[0]!r}"
        )


def _digest(token: str | bytes) -> bytes | None:
    if not isinstance(token, (str, bytes)) or len(token) > MAX_TOKEN_BYTES:
        return None
    raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else token
    return hashlib.sha256(raw).digest()


class Verifier:
    """Verifies bound access tokens; keeps bounded caches of chains and signatures.

    A cache size of 0 turns that cache off. Revocation and policy are optional so that
    offline verification (no daemon) can run the same pipeline. DPoP proof ``jti``s go to
    ``dpop_replay`` (the daemon passes the cache it watches; default: one of our own), and
    ``dpop_nonces``, when given, makes every proof carry a fresh server nonce.
    """

    def __init__(
        self,
        settings: VerifierSettings,
        *,
        bundles: BundleSource,
        clock: Clock,
        revocation: RevocationCheck | None = None,
        policy: PolicyCheck | None = None,
        feed: FeedCheck | None = None,
        chain_cache_size: int = 1024,
        signature_cache_size: int = 4096,
        dpop_replay: ReplayGuard | None = None,
        dpop_nonces: NonceSource | None = None,
    ) -> None:
        self.settings = settings
        self._bundles = bundles
        self._clock = clock
        self._revocation = revocation
        self._policy = policy
        self._feed = feed
        self._proof_rules = ProofRules(settings.dpop_window, settings.clock_skew, dpop_nonces)
        self._dpop_replay = dpop_replay if dpop_replay is not None else ReplayCache()
        self._chains = ChainCache(chain_cache_size)
        self._signatures: SignatureCache[_Signed] = SignatureCache(signature_cache_size)

    def verify(
        self,
        token: str | bytes,
        *,
        audience: str,
        presented_chain: Sequence[x509.Certificate] | None,
        required_scopes: Sequence[str] = (),
        intermediates: Sequence[x509.Certificate] = (),
        check_binding: bool = True,
        required_detail_types: Sequence[str] = (),
        dpop: DpopRequest | None = None,
    ) -> VerifiedToken:
        """All checks, or TokenRejected with the first failing reason.

        With ``dpop`` (the token came in the ``DPoP`` scheme) possession is proven by the
        proof and ``presented_chain`` is not consulted; otherwise by the certificate.
        ``check_binding=False`` skips steps 11-13, for a subject token being exchanged
        (delegation): its holder is the exchanging agent's peer, not the caller.
        """
        if not isinstance(audience, str) or not audience:
            raise ConfigError("verification needs the expected audience")
        binding: _Binding = None
        if check_binding:
            binding = dpop if dpop is not None else tuple(presented_chain or ())
        needs = _Needs(tuple(required_scopes), tuple(required_detail_types))
        return self._checked(token, audience, binding, needs, intermediates)

    def dpop_nonce(self) -> str | None:
        """The server nonce proofs must carry now, or None when nonces are not required."""
        nonces = self._proof_rules.nonces
        return nonces.current(self._clock.now()) if nonces is not None else None

    def introspect(self, token: str | bytes) -> VerifiedToken:
        """RFC 7662 "active": every check except audience, binding and scope, which belong
        to the resource server that asks, not to the token."""
        return self._checked(token, None, None, _Needs(), ())

    def _checked(
        self,
        token: str | bytes,
        audience: str | None,
        binding: _Binding,
        needs: _Needs,
        intermediates: Sequence[x509.Certificate],
    ) -> VerifiedToken:
        """Steps 1-16 in order; ``None`` for audience or binding skips that step."""
        with rejecting(TokenRejected):
            now = self._clock.now()
            bundles = self._bundles.bundles()
            signed = self._authenticated(token, now, bundles, intermediates)
            claims = signed.claims
            check_time(claims, now, self.settings)
            if audience is not None:
                check_audience(claims, audience)
            if isinstance(binding, DpopRequest):
                self._check_dpop(claims, token, binding, now)
            elif binding is not None:
                bound = check_binding_present(claims, binding)
                known = self._chains.get(binding, bundles, now)  # a look-up, not a check
                check_binding_match(bound, known.leaf_x5t if known else thumbprint(binding[0]))
                if known is None:
                    hints = (*signed.signer.path[1:], *self.settings.intermediates, *intermediates)
                    known = self._validate_presenter(binding, hints, bundles, now)
                check_presenter(claims, known)
            check_revocation(claims, self._revocation)
            check_revocation_fresh(self._feed)
            check_policy(claims, self._policy)
            check_scopes(claims, needs.scopes)
            check_detail_types(claims, needs.detail_types)
            return signed.verified

    def _check_dpop(
        self, claims: Mapping[str, Any], token: str | bytes, request: DpopRequest, now: float
    ) -> None:
        """Steps 11-12 for DPoP (pop.md): ``cnf.jkt`` present, a valid proof for this request
        and token (``proof_invalid``), made with the bound key. No step 13: a bare key names
        no workload, and ``exp`` never outlives the certificate whose key ``jkt`` names."""
        bound = bound_key(claims)
        jkt = check_proof(
            request, access_token=token, now=now, rules=self._proof_rules, replay=self._dpop_replay
        )
        check_binding_match(bound, jkt, "DPoP key")

    def _authenticated(
        self,
        token: str | bytes,
        now: float,
        bundles: TrustBundles,
        intermediates: Sequence[x509.Certificate],
    ) -> _Signed:
        """Steps 1-8, answered from the signature cache when this exact token passed them."""
        digest = _digest(token)
        cached = self._signatures.get(digest, now) if digest is not None else None
        if cached is not None and cached.signer.still_valid(bundles, now):
            return cached
        jws = parse_compact(token)
        check_header_shape(jws.header)
        check_access_claims(jws.payload)
        signer = authenticate(
            jws,
            typ=ACCESS_TOKEN_TYP,
            bundles=bundles,
            now=now,
            issuers=self.settings.issuers,
            hints=(*self.settings.intermediates, *intermediates),
            chains=self._chains,
        )
        check_issuer_claim(jws.payload, signer)
        claims = jws.payload
        signed = _Signed(
            claims, signer, VerifiedToken(claims, delegation_chain(claims), signer.spiffe_id)
        )
        if digest is not None:
            self._signatures.put(digest, signed, min(claims["exp"], signer.not_after))
        return signed

    def _validate_presenter(
        self,
        presented: tuple[x509.Certificate, ...],
        hints: Sequence[x509.Certificate],
        bundles: TrustBundles,
        now: float,
    ) -> ValidatedChain:
        """Step 13, first half: the presented leaf is an SVID valid now in its trust domain."""
        leaf, rest = presented[0], [*presented[1:], *hints]
        chain = validate_chain(leaf, rest, bundles, now, Reason.PRESENTER_MISMATCH)
        self._chains.put(presented, chain)
        return chain
