"""Proof-of-possession binding (catalogue section 3, RFC 8705 sections 3.1 and 7, token-profile
section 3 steps 11-13): the token names one certificate by the SHA-256 of its whole DER, the
caller presents exactly that certificate, and it is a valid SVID of ``client_id``.

A thumbprint is compared as sent, never normalized, and covers the whole certificate: a
certificate with the agent's own key and SPIFFE ID but any other byte is another certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from spiffebind.testing.attacks.kit import (
    VALID,
    Attempt,
    Build,
    Case,
    Materials,
    bound_to,
    case,
    issued_by_agent,
    must,
    self_signed,
    uri_of,
)
from spiffebind.testing.forge import DROP, b64u, der, x5t
from spiffebind.testing.pki import Issued

MISSING = "binding_missing"
MISMATCH = "binding_mismatch"
PRESENTER = "presenter_mismatch"


def _cnf(cnf: Callable[[Materials], Any]) -> Build:
    return lambda m: m.token(claims={"cnf": cnf(m)})


def _thumbprint(value: Callable[[Materials], str]) -> Build:
    return _cnf(lambda m: {"x5t#S256": value(m)})


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha1(m: Materials) -> str:
    """The SHA-1 thumbprint of the agent's certificate: what ``x5t`` (not ``x5t#S256``) holds."""
    return b64u(hashlib.sha1(der(m.agent.cert), usedforsecurity=False).digest())


def _issuer(m: Materials) -> x509.Certificate:
    """The certificate that issued the agent's SVID (an intermediate, or the bundle root)."""
    return m.agent.parents[0] if m.agent.parents else m.anchor


def _held(m: Materials, issued: Issued, **claims: Any) -> Attempt:
    """A token bound to ``issued``'s certificate, presented by it with its chain."""
    token = m.token(claims={**bound_to(issued.cert), **claims})
    return Attempt(token, presented=tuple(issued.chain))


def _presenting(holder: Callable[[Materials], Issued]) -> Build:
    return lambda m: _held(m, holder(m))


def _own_id(holder: Callable[[Materials], Issued]) -> Build:
    """Like :func:`_presenting`, with ``client_id`` and ``sub`` set to the holder's own ID."""

    def build(m: Materials) -> Attempt:
        issued = holder(m)
        spiffe_id = uri_of(issued.cert)
        return _held(m, issued, client_id=spiffe_id, sub=spiffe_id)

    return build


def _agent_svid(m: Materials, **defect: Any) -> Issued:
    return must(m.ca, "ca").issue(m.agent_id, **defect)


def _presented(certs: Callable[[Materials], tuple[x509.Certificate, ...]]) -> Build:
    return lambda m: Attempt(m.token(), presented=certs(m))


HOUR = dt.timedelta(hours=1)

BINDING: tuple[Case, ...] = (
    case("P01", "no-presented-certificate", MISSING, _presented(lambda m: ())),
    case("P02", "cnf-missing", MISSING, lambda m: m.token(claims={"cnf": DROP})),
    case(
        "P03",
        "cnf-sha1-x5t-only",
        MISSING,
        _cnf(lambda m: {"x5t": _sha1(m)}),
    ),
    case("P04", "cnf-lower-case-member", MISSING, _cnf(lambda m: {"x5t#s256": x5t(m.agent.cert)})),
    case("P04", "cnf-dpop-jkt-only", MISSING, _cnf(lambda m: {"jkt": x5t(m.agent.cert)})),
    case("P05", "cnf-string", MISSING, _cnf(lambda m: x5t(m.agent.cert))),
    case("P05", "cnf-array", MISSING, _cnf(lambda m: [x5t(m.agent.cert)])),
    case("P05", "thumbprint-empty", MISSING, _thumbprint(lambda m: "")),
    case("P05", "thumbprint-array", MISSING, _cnf(lambda m: {"x5t#S256": [x5t(m.agent.cert)]})),
    case("P05", "thumbprint-number", MISSING, _cnf(lambda m: {"x5t#S256": 123})),
    case("P06", "sibling-pod-same-id-other-key", MISMATCH, _presented(lambda m: (m.sibling.cert,))),
    case("P06", "another-workloads-certificate", MISMATCH, _presented(lambda m: (m.peer.cert,))),
    case("P07", "thumbprint-padded", MISMATCH, _thumbprint(lambda m: x5t(m.agent.cert) + "=")),
    case(
        "P08",
        "thumbprint-standard-base64",
        MISMATCH,
        _thumbprint(lambda m: base64.b64encode(_digest(der(m.agent.cert))).decode()),
    ),
    case(
        "P09", "thumbprint-hex", MISMATCH, _thumbprint(lambda m: _digest(der(m.agent.cert)).hex())
    ),
    case(
        "P09",
        "thumbprint-sha1-in-s256-member",
        MISMATCH,
        _thumbprint(_sha1),
    ),
    case(
        "P09", "thumbprint-upper-case", MISMATCH, _thumbprint(lambda m: x5t(m.agent.cert).upper())
    ),
    case(
        "P10",
        "thumbprint-of-spki",
        MISMATCH,
        _thumbprint(
            lambda m: b64u(
                _digest(
                    m.agent.cert.public_key().public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                )
            )
        ),
    ),
    case(
        "P10",
        "thumbprint-of-pem",
        MISMATCH,
        _thumbprint(lambda m: b64u(_digest(m.agent.cert.public_bytes(serialization.Encoding.PEM)))),
    ),
    case("P10", "thumbprint-of-issuing-ca", MISMATCH, _thumbprint(lambda m: x5t(_issuer(m)))),
    case(
        "P10",
        "thumbprint-of-whole-chain",
        MISMATCH,
        _thumbprint(lambda m: b64u(_digest(b"".join(der(c) for c in (*m.agent.chain, m.anchor))))),
    ),
    case(
        "P11",
        "presented-chain-reversed",
        MISMATCH,
        _presented(lambda m: (_issuer(m), m.agent.cert)),
    ),
    case(
        "P10",
        "self-signed-cert-with-agents-key-and-id",
        MISMATCH,
        _presented(lambda m: (self_signed(m, m.agent_id, m.agent.key).cert,)),
    ),
    case(
        "P13",
        "self-signed-cert-bound-and-presented",
        PRESENTER,
        _presenting(lambda m: self_signed(m, m.agent_id, m.agent.key)),
    ),
    case(
        "P12",
        "presenter-expired",
        PRESENTER,
        _presenting(lambda m: _agent_svid(m, not_before=m.when - 3 * HOUR, ttl=HOUR)),
        "ca",
    ),
    case(
        "P12",
        "presenter-not-yet-valid",
        PRESENTER,
        _presenting(lambda m: _agent_svid(m, not_before=m.when + HOUR)),
        "ca",
    ),
    case(
        "P13",
        "presenter-is-a-ca",
        PRESENTER,
        _presenting(lambda m: _agent_svid(m, is_ca=True, key_cert_sign=True)),
        "ca",
    ),
    case(
        "P13",
        "presenter-two-uri-sans",
        PRESENTER,
        _presenting(lambda m: _agent_svid(m, uris=[m.agent_id, "spiffe://example.org/x"])),
        "ca",
    ),
    case(
        "P13",
        "presenter-without-digital-signature",
        PRESENTER,
        _presenting(lambda m: _agent_svid(m, digital_signature=False)),
        "ca",
    ),
    case(
        "P14",
        "presenter-from-rogue-ca-with-agent-id",
        PRESENTER,
        _presenting(lambda m: m.rogue.issue(m.agent_id)),
    ),
    case(
        "P14",
        "presenter-from-federated-ca-with-agent-id",
        PRESENTER,
        _presenting(lambda m: must(m.federated, "federated").issue(m.agent_id)),
        "federated",
    ),
    case(
        "P14",
        "presenter-signed-by-agent-svid",
        PRESENTER,
        _presenting(lambda m: issued_by_agent(m, m.agent_id)),
    ),
    case("P15", "client-id-is-not-the-presenter", PRESENTER, _presenting(lambda m: m.peer)),
    case(
        "P16",
        "presenter-from-unfederated-trust-domain",
        PRESENTER,
        _own_id(lambda m: m.stranger.issue(f"spiffe://{m.stranger.trust_domain}/agents/planner")),
    ),
    case("P18", "sibling-presents-its-own-token", VALID, _presenting(lambda m: m.sibling)),
    case(
        "P20",
        "federated-presenter",
        VALID,
        _own_id(
            lambda m: (f := must(m.federated, "federated")).issue(
                f"spiffe://{f.trust_domain}/agents/planner"
            )
        ),
        "federated",
    ),
)
