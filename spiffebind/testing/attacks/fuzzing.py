"""Hypothesis strategies for fuzzing a verifier and the daemon's API (needs the ``hypothesis``
dev dependency; nothing else in spiffebind imports this module).

Three layers, so examples reach past the parser: hostile JSON text (:func:`raw_json`),
tokens and signed requests that are structurally close to valid ones (:func:`tokens`,
:func:`proofs`, signed with the world's real keys), and any request message of the v1
API, generated from its protobuf descriptor with those as the interesting fields
(:func:`requests_for`), plus Envoy's ``CheckRequest`` for ext_authz (:func:`check_requests`;
drawn by hand, as Envoy's message is recursive and far larger than what ext_authz reads).
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from envoy.service.auth.v3 import external_auth_pb2 as authz
from google.protobuf import descriptor, message, message_factory
from hypothesis import strategies as st

from spiffebind.api.v1 import spiffebind_pb2 as pb
from spiffebind.service.ext_authz import XFCC
from spiffebind.service.ext_authz_routes import CONTEXT_PREFIX
from spiffebind.testing.attacks.kit import Materials
from spiffebind.testing.attacks.requests import forged, proof
from spiffebind.testing.envoy import check_request, envoy_url_encode
from spiffebind.testing.forge import DROP, compact, der
from spiffebind.token.dpop import make_proof

SERVICE = pb.DESCRIPTOR.services_by_name["TokenService"]
"""Every RPC of the v1 API; the fuzz tests walk all of its methods."""

HEADER_NAMES = ("alg", "typ", "kid", "x5c", "crit", "jku", "jwk", "b64", "cty", "zip", "x")
CLAIM_NAMES = (
    *("iss", "sub", "client_id", "aud", "exp", "iat", "nbf", "jti", "scope", "cnf", "txn"),
    *("act", "authorization_details", "may_act", "op", "audience", "ttl"),
)

_HAZARDS = (
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1E-400",
    b"-0",
    b"9" * 4400,
    b"[" * 3000 + b"]" * 3000,
    b'"\\ud800"',
    b'"\xff"',
    b"\xef\xbb\xbf{}",
    b"{}{}",
    b'{"a":1,"a":2}',
)


def json_values() -> st.SearchStrategy[Any]:
    """JSON a well-behaved encoder can write: deep-ish, odd types, huge and tiny numbers."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=24)
        | st.sampled_from(["spiffe://example.org/agents/planner", "search:read", ""])
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )


def _hazard(index: int) -> bytes:
    """By index, so a failing example's repr stays short (some hazards are kilobytes)."""
    return _HAZARDS[index]


def raw_json() -> st.SearchStrategy[bytes]:
    """JSON text, often almost an object, with one hazard an encoder would never write."""
    plain = json_values().map(lambda v: json.dumps(v).encode())
    hazard = st.integers(0, len(_HAZARDS) - 1).map(_hazard)
    member = st.tuples(st.sampled_from(CLAIM_NAMES), hazard).map(
        lambda kv: b'{"' + kv[0].encode() + b'":' + kv[1] + b"}"
    )
    return st.one_of(plain, hazard, member, st.binary(max_size=64))


def _changes(names: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    value = json_values() | st.just(DROP)
    return st.dictionaries(st.sampled_from(names), value, max_size=3)


def _mutated(token: str) -> st.SearchStrategy[str]:
    alphabet = string.ascii_letters + string.digits + "-_.=+/ \n"
    return st.tuples(st.integers(0, len(token) - 1), st.sampled_from(alphabet)).map(
        lambda ic: token[: ic[0]] + ic[1] + token[ic[0] + 1 :]
    )


def tokens(m: Materials) -> st.SearchStrategy[str]:
    """Junk, one-character mutations of the baseline, re-signed structural changes to its
    header and claims, and hostile JSON signed by the issuer's own key."""
    baseline = m.token()
    structured = st.tuples(_changes(HEADER_NAMES), _changes(CLAIM_NAMES)).map(
        lambda hc: _signed(m, hc[0], hc[1])
    )
    raw = st.tuples(raw_json(), raw_json()).map(lambda hc: compact(hc[0], hc[1], m.signer.key))
    return st.one_of(
        st.text(max_size=200),
        st.just(baseline),
        _mutated(baseline),
        structured,
        raw,
    )


def _signed(m: Materials, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    try:
        return m.token(header=header, claims=claims)
    except (TypeError, ValueError):  # a change json.dumps cannot write (e.g. a non-str key)
        return m.token()


def _params(m: Materials) -> st.SearchStrategy[dict[str, Any]]:
    fixed: dict[str, st.SearchStrategy[Any]] = {
        "op": st.sampled_from(["issue", "revoke", "exchange", "", "ISSUE"]),
        "audience": st.just(m.audience) | json_values(),
        "scope": st.sampled_from(["search:read", "search:read search:write", "admin", ""]),
    }
    optional = st.dictionaries(
        st.sampled_from(("ttl", "txn", "token_jti", "authorization_details", "subject_token", "x")),
        json_values(),
        max_size=3,
    )
    return st.tuples(st.fixed_dictionaries(fixed), optional).map(lambda fo: {**fo[0], **fo[1]})


def proofs(m: Materials) -> st.SearchStrategy[str]:
    """Signed requests by the agent: any parameters, hand-made headers, hostile JSON."""
    signed = _params(m).map(lambda p: _proof(m, p))
    hand_made = _changes(HEADER_NAMES).map(lambda h: _forged(m, h))
    raw = raw_json().map(lambda c: forged(m, claims=c))
    return st.one_of(st.text(max_size=100), signed, hand_made, raw, tokens(m))


def _proof(m: Materials, params: dict[str, Any]) -> str:
    try:
        return proof(m, params=params)
    except (TypeError, ValueError):  # parameters json.dumps cannot write
        return proof(m)


def _forged(m: Materials, header: Mapping[str, Any]) -> str:
    try:
        return forged(m, header)
    except (TypeError, ValueError):
        return forged(m)


_F = descriptor.FieldDescriptor
_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    _F.TYPE_STRING: st.text(max_size=300),
    _F.TYPE_BYTES: st.binary(max_size=600),
    _F.TYPE_BOOL: st.booleans(),
    _F.TYPE_DOUBLE: st.floats(),
    _F.TYPE_FLOAT: st.floats(width=32),
    _F.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    _F.TYPE_UINT32: st.integers(0, 2**32 - 1),
    _F.TYPE_UINT64: st.integers(0, 2**64 - 1),
}


def _scalar(field: Any) -> st.SearchStrategy[Any]:
    """``field`` is a FieldDescriptor (upb's or the pure-Python one; their stubs differ)."""
    if field.type == _F.TYPE_MESSAGE:
        return messages(message_factory.GetMessageClass(field.message_type))
    return _SCALARS.get(field.type, st.integers(-(2**63), 2**63 - 1))


def messages(
    cls: type[message.Message], **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[message.Message]:
    """Any instance of ``cls``; ``fields`` replace the strategy of the named fields."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for field in cls.DESCRIPTOR.fields:
        value = fields.get(field.name, _scalar(field))
        parts[field.name] = st.lists(value, max_size=4) if field.is_repeated else value

    def build(values: dict[str, Any]) -> message.Message:
        msg = cls()
        for name, value in values.items():
            _assign(msg, cls.DESCRIPTOR.fields_by_name[name], value)
        return msg

    return st.fixed_dictionaries(parts).map(build)


def _assign(msg: message.Message, field: Any, value: Any) -> None:
    if field.is_repeated:
        getattr(msg, field.name).extend(value)
    elif field.type != _F.TYPE_MESSAGE:
        setattr(msg, field.name, value)
    else:
        getattr(msg, field.name).CopyFrom(value)


def requests_for(method: str, m: Materials) -> st.SearchStrategy[message.Message]:
    """Request messages of one RPC, their token and proof fields close to valid ones."""
    method_descriptor = SERVICE.methods_by_name[method]
    cls = message_factory.GetMessageClass(method_descriptor.input_type)
    names = {f.name for f in cls.DESCRIPTOR.fields}
    interesting = {
        "token": tokens(m),
        "signed_request": proofs(m),
        "subject_token": tokens(m),
        "audience": st.just(m.audience) | st.text(max_size=60),
        "peer_certificates": st.sampled_from([m.agent.cert, m.peer.cert, m.anchor]).map(der)
        | st.binary(max_size=600),
    }
    return messages(cls, **{k: v for k, v in interesting.items() if k in names})


_CONTEXT_KEYS = [
    *(CONTEXT_PREFIX + k for k in ("audience", "scopes", "tool", "authorization_details_type")),
    CONTEXT_PREFIX + "host",
    "other",
]


def check_requests(m: Materials) -> st.SearchStrategy[authz.CheckRequest]:
    """Envoy's ``CheckRequest``, the parts ext_authz reads (the ``Authorization`` header, the
    ``DPoP`` proof, the peer certificate, XFCC, context extensions, path, host and body)
    close to valid ones."""
    certificates = st.sampled_from([m.agent.cert, m.peer.cert, m.anchor])
    pem = st.lists(certificates, min_size=1, max_size=3).map(
        lambda chain: b"".join(c.public_bytes(Encoding.PEM) for c in chain)
    )
    authorization = (
        tokens(m).map(lambda t: f"Bearer {t}")
        | tokens(m).map(lambda t: f"DPoP {t}")
        | st.tuples(
            st.sampled_from(["Bearer", "bearer", "Basic", "DPoP", ""]), st.text(max_size=80)
        ).map(" ".join)
        | st.text(max_size=200)
    )
    headers = st.dictionaries(
        st.sampled_from(["authorization", XFCC, "x-spiffebind-sub", "dpop"]) | st.text(max_size=20),
        st.text(max_size=200) | _dpop_proofs(m),
        max_size=3,
    )
    return st.builds(
        lambda auth, extra, certificate, context, path, host, body: check_request(
            path=path,
            host=host,
            headers={**extra, **({"authorization": auth} if auth is not None else {})},
            certificate=certificate,
            context_extensions=context,
            body=body,
        ),
        st.none() | authorization,
        headers,
        pem.map(envoy_url_encode) | st.text(max_size=300),
        st.fixed_dictionaries(
            {CONTEXT_PREFIX + "audience": st.just(m.audience)},
            optional={CONTEXT_PREFIX + "scopes": st.sampled_from(["search:read", "a b", ""])},
        )
        | st.dictionaries(
            st.sampled_from(_CONTEXT_KEYS), st.just(m.audience) | st.text(max_size=60), max_size=4
        ),
        st.sampled_from(["/search/q", "/"]) | st.text(max_size=60),
        st.sampled_from(["tools.example.org", ""]) | st.text(max_size=40),
        st.binary(max_size=64),
    )


def _dpop_proofs(m: Materials) -> st.SearchStrategy[str]:
    """DPoP proofs by the agent's key for the baseline token, for any method and URI."""
    paths = st.text(string.ascii_letters + string.digits + "/%._~-", max_size=20)
    return st.builds(
        lambda method, path: make_proof(
            m.agent.key,
            method=method,
            uri=f"https://tools.example.org/{path}",
            now=m.now,
            access_token=m.token(),
        ),
        st.sampled_from(["GET", "POST"]),
        st.just("search/q") | paths,
    )
