"""What an authenticated caller asked for, attached to its refusal for the audit trail.

A refused issue, exchange or revoke used to be recorded with no ``client_id``, ``aud`` or
``txn``: the operator could not tell who was refused what. The values come from the signed
request's parameters as sent (they may be the very defect), so only strings are kept, each
cut to :data:`MAX_CHARS`, at most :data:`~spiffebind.service.params.MAX_AUDIENCES`
audiences: a refusal writes no more than a grant would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from spiffebind.errors import RejectedError
from spiffebind.service.params import MAX_AUDIENCES
from spiffebind.token import SignedRequest

MAX_CHARS = 256


@contextmanager
def on_refusal(request: SignedRequest) -> Iterator[None]:
    """Attach what ``request`` asked to any refusal raised inside."""
    try:
        yield
    except RejectedError as exc:
        exc.asked = asked(request.caller_id, request.params)
        raise


def asked(caller_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Audit fields for a refused request: caller, audiences, scope, task and token."""
    audience = params.get("audience")
    audiences = [audience] if isinstance(audience, str) else audience
    listed = audiences if isinstance(audiences, list | tuple) else ()
    return {
        "client_id": _cut(caller_id),
        "aud": [_cut(a) for a in listed[:MAX_AUDIENCES] if isinstance(a, str)],
        "scope": _text(params.get("scope")),
        "txn": _text(params.get("txn")),
        "jti": _text(params.get("token_jti")),
    }


def _text(value: object) -> str:
    return _cut(value) if isinstance(value, str) else ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."
