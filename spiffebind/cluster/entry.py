"""Entries as they sit in the shared bucket, each signed by the daemon that wrote it.

Revocations (``kind`` ``jti`` or ``txn``) and what revocation rights need cluster-wide: a
task's owner (``task``, a create-if-absent key: the first node to create it decides) and
its members (``member``, clients that joined the task by exchange).

Pure code: no sockets, files or clocks. An entry is a compact JWS of type
``spiffebind-revocation+jwt`` made with the revoking daemon's own X.509-SVID key, its chain in
``x5c``, checked with the very steps that authenticate access tokens and signed requests
(:func:`spiffebind.token.signed.authenticate`): so a value written by anyone but a peer daemon
(a NATS client outside the ``--issuer`` patterns, a forged or truncated value) is refused
with a reason code, and never applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spiffebind.errors import Reason, RejectedError
from spiffebind.spiffeid import IdPattern
from spiffebind.token.chain import TrustBundles
from spiffebind.token.jose import b64url_encode, parse_compact, sign_compact
from spiffebind.token.signed import authenticate, check_header_shape, rejecting
from spiffebind.token.svid import SigningIdentity

ENTRY_TYP = "spiffebind-revocation+jwt"
Kind = Literal["jti", "txn"]
EntryKind = Literal["jti", "txn", "task", "member"]
KINDS: tuple[EntryKind, ...] = ("jti", "txn", "task", "member")
REVOCATIONS = ("jti.", "txn.")
"""Key prefixes of revocations; the other keys record task ownership."""


@dataclass(frozen=True)
class RevocationEntry:
    """One entry as every node agrees on it; ``value`` is the jti or the txn, ``by`` who
    asked (for ``task`` the owner, for ``member`` the member).

    ``iat`` keeps milliseconds, so propagation times can be measured from it; ``exp`` is when
    no token the entry can affect is alive any more (it becomes the entry's TTL).
    """

    kind: EntryKind
    value: str
    iss: str
    iat: float
    exp: int
    by: str

    @property
    def key(self) -> str:
        return entry_key(self.kind, self.value, self.by)

    def claims(self) -> dict[str, Any]:
        return {
            "iss": self.iss,
            "iat": self.iat,
            "exp": self.exp,
            "kind": self.kind,
            _value_claim(self.kind): self.value,
            "by": self.by,
        }


def _value_claim(kind: EntryKind) -> str:
    return "jti" if kind == "jti" else "txn"


def _hashed(value: str) -> str:
    return b64url_encode(hashlib.sha256(value.encode("utf-8")).digest())


def entry_key(kind: EntryKind, value: str, by: str = "") -> str:
    """``jti.<jti>`` (a jti is already base64url), ``txn.<h(txn)>``, ``task.<h(txn)>``,
    ``member.<h(txn)>.<h(client)>``, h being base64url SHA-256: a txn or a SPIFFE ID may hold
    characters NATS keys refuse, and their length is not bounded by the key syntax."""
    if kind == "jti":
        return f"jti.{value}"
    if kind == "member":
        return f"member.{_hashed(value)}.{_hashed(by)}"
    return f"{kind}.{_hashed(value)}"


def sign_entry(entry: RevocationEntry, identity: SigningIdentity) -> str:
    """The entry's value, signed by the daemon's own SVID (whose ID must be ``entry.iss``)."""
    if identity.spiffe_id != entry.iss:
        raise ValueError("an entry is signed by the daemon it names as iss")
    header = {"alg": identity.alg, "typ": ENTRY_TYP, "x5c": list(identity.x5c)}
    return sign_compact(header, entry.claims(), identity.key)


def _claim(claims: Mapping[str, Any], name: str, *kinds: type) -> Any:
    value = claims.get(name)
    if not isinstance(value, kinds) or isinstance(value, bool) or value == "":
        raise RejectedError(Reason.MALFORMED, f"claim {name!r} missing or of the wrong type")
    return value


def _entry_claims(claims: Mapping[str, Any]) -> RevocationEntry:
    kind = claims.get("kind")
    if kind not in KINDS:
        raise RejectedError(Reason.MALFORMED, "claim 'kind' must be jti, txn, task or member")
    allowed = {"iss", "iat", "exp", "kind", _value_claim(kind), "by"}
    extra = set(claims) - allowed
    if extra:
        raise RejectedError(Reason.MALFORMED, f"unexpected claim {sorted(extra)[0]!r}")
    return RevocationEntry(
        kind=kind,
        value=_claim(claims, _value_claim(kind), str),
        iss=_claim(claims, "iss", str),
        iat=_claim(claims, "iat", int, float),
        exp=_claim(claims, "exp", int),
        by=_claim(claims, "by", str),
    )


def read_entry(
    key: str,
    value: bytes,
    *,
    bundles: TrustBundles,
    issuers: tuple[IdPattern, ...],
    now: float,
    skew: int,
) -> RevocationEntry:
    """The entry stored under ``key``, or RejectedError with the reason it must be ignored.

    The signer must chain to its trust domain's bundle and match the issuer patterns, ``iss``
    must be that signer, and the key must be the one its claims name (an entry copied under
    another key would revoke something nobody revoked). The chain is validated at the
    entry's ``iat``, not now: a revocation outlives the short-lived SVID that signed it.
    """
    with rejecting(RejectedError):
        jws = parse_compact(value)
        check_header_shape(jws.header)
        entry = _entry_claims(jws.payload)
        if entry.iat > now + skew:
            raise RejectedError(Reason.NOT_YET_VALID, "entry iat is in the future")
        signed_at = float(entry.iat)
        signer = authenticate(jws, typ=ENTRY_TYP, bundles=bundles, now=signed_at, issuers=issuers)
        if entry.iss != signer.spiffe_id:
            raise RejectedError(Reason.ISSUER_MISMATCH, "iss is not the x5c leaf's SPIFFE ID")
        if entry.key != key:
            raise RejectedError(Reason.MALFORMED, f"entry for {entry.key} stored under {key}")
        if entry.exp <= entry.iat:
            raise RejectedError(Reason.MALFORMED, "exp is not after iat")
        return entry
