"""The checks access tokens and signed requests share: header policy, signer chain, signature.

Both are JWSs certified by an X.509-SVID in ``x5c``, so both run the same steps in the same
order (token-profile section 3, steps 2-7); only the expected ``typ`` and the issuer
patterns differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from spiffebind.errors import Reason, RejectedError, SpiffebindError
from spiffebind.spiffeid import IdPattern, matches_any
from spiffebind.token.cache import ChainCache
from spiffebind.token.chain import TrustBundles, ValidatedChain, validate_chain
from spiffebind.token.jose import ALGORITHMS, CompactJws, signature_valid
from spiffebind.token.svid import alg_for_key, decode_x5c

FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "crit", "zip", "b64", "cty")
"""Headers that fetch keys, change how the payload is read, or demand extensions we lack."""


class _Rejecting:
    """A class, not a generator context manager: it wraps every verification and every
    signed request, and costs a fraction of one."""

    __slots__ = ("kind",)

    def __init__(self, kind: type[RejectedError]) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, self.kind) or not isinstance(exc, Exception):
            return
        if isinstance(exc, RejectedError):
            raise self.kind(exc.reason, exc.detail) from None
        if isinstance(exc, SpiffebindError):
            return
        # a verifier fails closed on any input, whatever breaks
        raise self.kind(Reason.MALFORMED, f"unexpected {type(exc).__name__}") from None


def rejecting(kind: type[RejectedError]) -> _Rejecting:
    """The one exception boundary: reasons keep their code, our other errors pass through
    (they are deliberate), and anything foreign or unexpected becomes ``malformed``."""
    return _Rejecting(kind)


def check_header_shape(header: Mapping[str, Any]) -> None:
    """Step 1 for headers: ``kid`` is informational, but if present it is a string."""
    if "kid" in header and not isinstance(header["kid"], str):
        raise RejectedError(Reason.MALFORMED, "header 'kid' must be a string")


def check_alg(header: Mapping[str, Any], leaf: x509.Certificate | None) -> str:
    """Step 2: the one ``alg`` the ``x5c`` leaf's key type allows (leaf unknown: allowlist)."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise RejectedError(Reason.UNSUPPORTED_ALG, f"alg {alg!r} is not allowed")
    if leaf is not None:
        try:
            expected = alg_for_key(leaf.public_key())
        except (ValueError, UnsupportedAlgorithm):
            expected = None
        if alg != expected:
            raise RejectedError(Reason.UNSUPPORTED_ALG, f"alg {alg} does not fit the x5c leaf key")
    return alg


def typ_is(header: Mapping[str, Any], expected: str) -> bool:
    """RFC 7515 4.1.9: media types compare case-insensitively, ``application/`` optional."""
    typ = header.get("typ")
    return (
        isinstance(typ, str)
        and typ.isascii()
        and typ.lower().removeprefix("application/") == expected
    )


def check_typ(header: Mapping[str, Any], expected: str) -> None:
    """Step 3: a request proof is not an access token and a JWT-SVID is neither."""
    if not typ_is(header, expected):
        raise RejectedError(Reason.WRONG_TYPE, f"typ must be {expected}")


def check_forbidden_headers(header: Mapping[str, Any]) -> None:
    """Step 4."""
    present = [name for name in FORBIDDEN_HEADERS if name in header]
    if present:
        raise RejectedError(Reason.FORBIDDEN_HEADER, f"forbidden header {present[0]!r}")


def check_signer(
    certs: tuple[x509.Certificate, ...] | None,
    bundles: TrustBundles,
    now: float,
    hints: Sequence[x509.Certificate],
) -> ValidatedChain:
    """Step 5: the ``x5c`` leaf is an X.509-SVID valid now under its trust domain's bundle."""
    if certs is None:
        raise RejectedError(Reason.UNTRUSTED_SIGNER, "x5c missing or not strict base64 DER")
    return validate_chain(certs[0], [*certs[1:], *hints], bundles, now, Reason.UNTRUSTED_SIGNER)


def check_issuer(signer: ValidatedChain, issuers: tuple[IdPattern, ...]) -> None:
    """Step 6."""
    if not matches_any(issuers, signer.spiffe_id):
        raise RejectedError(Reason.UNTRUSTED_ISSUER, f"{signer.spiffe_id} is not an issuer")


def check_signature(jws: CompactJws, alg: str, signer: ValidatedChain) -> None:
    """Step 7: with the ``x5c`` leaf key, the only key a token can name."""
    if not signature_valid(jws, alg, signer.leaf.public_key()):
        raise RejectedError(Reason.BAD_SIGNATURE, "signature does not verify")


def _x5c_key(value: object) -> tuple[str, ...] | None:
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return value
    return None


def authenticate(
    jws: CompactJws,
    *,
    typ: str,
    bundles: TrustBundles,
    now: float,
    issuers: tuple[IdPattern, ...] | None = None,
    hints: Sequence[x509.Certificate] = (),
    chains: ChainCache | None = None,
) -> ValidatedChain:
    """Steps 2-7 in order; ``issuers=None`` skips step 6 (request proofs have no issuer)."""
    key = _x5c_key(jws.header.get("x5c"))
    signer = chains.get(key, bundles, now) if chains is not None and key is not None else None
    certs = None if signer is not None else decode_x5c(key)
    alg = check_alg(jws.header, signer.leaf if signer else certs[0] if certs else None)
    check_typ(jws.header, typ)
    check_forbidden_headers(jws.header)
    if signer is None:
        signer = check_signer(certs, bundles, now, hints)
        if chains is not None:
            chains.put(key, signer)
    if issuers is not None:
        check_issuer(signer, issuers)
    check_signature(jws, alg, signer)
    return signer
