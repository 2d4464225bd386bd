"""What a signed request may ask for: strict shapes for the parameters its claims carry.

The signature covers the parameters, so they live in the proof's claims; this module is the
one place that says which names and types are allowed, and refuses anything else as
``malformed`` (INVALID_ARGUMENT) before policy or state is touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spiffebind.errors import Reason, RequestRejected
from spiffebind.grammar import JTI, SCOPE
from spiffebind.spiffeid import parse_spiffe_id
from spiffebind.wire import ACCESS_TOKEN_TYPE, SUBJECT_TOKEN_TYPES

OP_ISSUE = "issue"
OP_REVOKE = "revoke"
OP_EXCHANGE = "exchange"
MAX_AUDIENCES = 16
MAX_SCOPES = 64
MAX_DETAILS_BYTES = 4096
_TXN = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
_SHA256 = re.compile(r"[A-Za-z0-9_-]{43}")


def _bad(detail: str) -> RequestRejected:
    return RequestRejected(Reason.MALFORMED, detail)


@dataclass(frozen=True)
class IssueParams:
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    ttl: int | None
    txn: str | None
    authorization_details: tuple[Mapping[str, Any], ...]
    may_act: str | None = None

    @property
    def detail_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d["type"] for d in self.authorization_details))


@dataclass(frozen=True)
class ExchangeParams:
    """An RFC 8693 exchange. The subject token travels beside the proof; the proof signs its
    SHA-256 (as DPoP's ``ath`` does), so proofs stay small and tokens are never nested.

    ``scopes`` and ``authorization_details`` are None when not asked for: the subject
    token's are kept then.
    """

    subject_token_sha256: str
    subject_token_type: str
    audiences: tuple[str, ...]
    scopes: tuple[str, ...] | None
    ttl: int | None
    txn: str | None
    authorization_details: tuple[Mapping[str, Any], ...] | None
    may_act: str | None


@dataclass(frozen=True)
class RevokeParams:
    jti: str | None
    txn: str | None


def _is_array(value: Any) -> bool:
    """A JSON array as the token core hands it over (read-only claims use tuples)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _thaw(value: Any) -> Any:
    """Plain dicts and lists again, so the details can be minted into a new token."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if _is_array(value):
        return [_thaw(v) for v in value]
    return value


def _expect(params: Mapping[str, Any], op: str, allowed: frozenset[str]) -> None:
    if params.get("op") != op:
        raise _bad(f"signed request is not for op {op!r}")
    unknown = sorted(params.keys() - allowed - {"op"})
    if unknown:
        raise _bad(f"unknown request parameter {unknown[0]!r}")


def _audiences(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not _is_array(items) or not items or len(items) > MAX_AUDIENCES:
        raise _bad(f"audience must be a string or a list of 1 to {MAX_AUDIENCES} strings")
    if any(not isinstance(a, str) or not a or a != a.strip() or " " in a for a in items):
        raise _bad("each audience must be a non-empty string without spaces")
    return tuple(dict.fromkeys(items))


def _scopes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str):
        raise _bad("scope must be one space-separated string")
    scopes = tuple(dict.fromkeys(value.split(" "))) if value else ()
    if len(scopes) > MAX_SCOPES or any(not SCOPE.fullmatch(s) for s in scopes):
        raise _bad("scope must hold RFC 6749 scope tokens separated by single spaces")
    return scopes


def _ttl(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _bad("ttl must be a positive integer number of seconds")
    return value


def _optional_id(value: Any, name: str, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _bad(f"{name} must match {pattern.pattern}")
    return value


def _details(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not _is_array(value) or not value:
        raise _bad("authorization_details must be a non-empty array (RFC 9396)")
    if len(json.dumps(value, default=dict)) > MAX_DETAILS_BYTES:
        raise _bad(f"authorization_details exceed {MAX_DETAILS_BYTES} bytes")
    for item in value:
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("type"), str)
            or not item["type"]
        ):
            raise _bad("each authorization_details entry needs a string 'type'")
    return tuple(_thaw(item) for item in value)


def _may_act(value: Any) -> str | None:
    """The one delegate a holder allows (RFC 8693 4.4 ``may_act``), as a SPIFFE ID."""
    if value is None:
        return None
    try:
        return parse_spiffe_id(value)
    except ValueError as exc:
        raise _bad(f"may_act must be a SPIFFE ID: {exc}") from None


_GRANT = frozenset({"audience", "scope", "ttl", "txn", "authorization_details", "may_act"})


def issue_params(params: Mapping[str, Any]) -> IssueParams:
    """The parameters of an ``issue`` request, or RequestRejected(malformed)."""
    _expect(params, OP_ISSUE, _GRANT)
    return IssueParams(
        audiences=_audiences(params.get("audience")),
        scopes=_scopes(params.get("scope")),
        ttl=_ttl(params.get("ttl")),
        txn=_optional_id(params.get("txn"), "txn", _TXN),
        authorization_details=_details(params.get("authorization_details")),
        may_act=_may_act(params.get("may_act")),
    )


def exchange_params(params: Mapping[str, Any]) -> ExchangeParams:
    """The parameters of an ``exchange`` request, or RequestRejected(malformed)."""
    _expect(params, OP_EXCHANGE, _GRANT | {"subject_token_sha256", "subject_token_type"})
    digest = params.get("subject_token_sha256")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise _bad("subject_token_sha256 must be the unpadded base64url SHA-256 of the token")
    token_type = params.get("subject_token_type", ACCESS_TOKEN_TYPE)
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise _bad(f"subject_token_type must be one of {', '.join(SUBJECT_TOKEN_TYPES)}")
    return ExchangeParams(
        subject_token_sha256=digest,
        subject_token_type=token_type,
        audiences=_audiences(params.get("audience")),
        scopes=_scopes(params["scope"]) if "scope" in params else None,
        ttl=_ttl(params.get("ttl")),
        txn=_optional_id(params.get("txn"), "txn", _TXN),
        authorization_details=_kept_details(params),
        may_act=_may_act(params.get("may_act")),
    )


def _kept_details(params: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    """Absent keeps the subject token's entries; an empty array drops them all."""
    if "authorization_details" not in params:
        return None
    value = params["authorization_details"]
    return () if _is_array(value) and not value else _details(value)


def revoke_params(params: Mapping[str, Any]) -> RevokeParams:
    """The parameters of a ``revoke`` request: exactly one of ``token_jti`` and ``txn``.

    The token to revoke is named ``token_jti`` because ``jti`` is the proof's own claim.
    """
    _expect(params, OP_REVOKE, frozenset({"token_jti", "txn"}))
    jti = _optional_id(params.get("token_jti"), "token_jti", JTI)
    txn = _optional_id(params.get("txn"), "txn", _TXN)
    if (jti is None) == (txn is None):
        raise _bad("a revoke request names exactly one of token_jti and txn")
    return RevokeParams(jti, txn)
