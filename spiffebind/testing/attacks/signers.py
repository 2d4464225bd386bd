"""Signer trust (catalogue 2.4, RFC 7515 4.1.6, SPIFFE X509-SVID section 5): the ``x5c`` leaf
is an X.509-SVID that chains, now, to the bundle of its own trust domain, and its SPIFFE ID
matches an issuer pattern.

Every case here but the last group is ``untrusted_signer``; cases that must issue a broken
certificate from our trust domain's CA need that CA's key (``needs="ca"``), so against real
SPIRE only the forgeries an outsider or an agent can make run: self-signed, rogue CAs that
borrow our trust domain's name, an agent's SVID posing as a CA, malformed ``x5c``.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization

from spiffebind.testing.attacks.kit import (
    Case,
    Materials,
    case,
    issued_by_agent,
    must,
    self_signed,
    uri_of,
)
from spiffebind.testing.forge import DROP, der, x5c
from spiffebind.testing.pki import Issued
from spiffebind.token.svid import MAX_CHAIN

UNTRUSTED = "untrusted_signer"
NOT_ISSUER = "untrusted_issuer"
HOUR = dt.timedelta(hours=1)


def _x5c(m: Materials, value: Any) -> str:
    return m.token(header={"x5c": value})


def _issued(m: Materials, **issue: Any) -> str:
    """A token whose signer certificate our CA issued with one defect."""
    return m.token(signer=must(m.ca, "ca").issue(m.signer_id, **issue))


def _named_case(name: str, uri: str) -> Case:
    """A signer certificate from our CA whose one URI SAN is ``uri``."""
    return case("J64", name, UNTRUSTED, lambda m: _issued(m, uris=[uri]), "ca")


def _pattern_case(name: str, spiffe_id: str) -> Case:
    """A valid SVID of our trust domain, outside the issuer pattern, naming itself in ``iss``."""
    return case(
        "J68",
        name,
        NOT_ISSUER,
        lambda m: _as_issuer(m, must(m.ca, "ca").issue(spiffe_id), spiffe_id),
        "ca",
    )


def _as_issuer(m: Materials, signer: Issued, spiffe_id: str) -> str:
    return m.token(signer=signer, claims={"iss": spiffe_id})


def _bad_version(m: Materials) -> str:
    """The leaf's DER with its version field set to v6, which no parser accepts."""
    raw = der(m.signer.cert)
    broken = raw.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1)
    assert broken != raw
    return _x5c(m, [base64.b64encode(broken).decode(), *x5c(m.signer.chain)[1:]])


def _over_cap(m: Materials) -> str:
    """One certificate more than the chain cap, small ones so the token stays under 8 KiB."""
    tiny = self_signed(m, "spiffe://t/x").cert
    return _x5c(m, x5c([m.signer.cert, *[tiny] * MAX_CHAIN]))


def _expired_intermediate(m: Materials) -> str:
    root = must(m.root_ca, "ca")
    inter = root.intermediate(not_before=m.when - 3 * HOUR, ttl=HOUR)
    return m.token(signer=inter.issue(m.signer_id))


def _ca_cert_as_signer(m: Materials) -> str:
    ca = must(m.ca, "ca")
    return m.token(signer=Issued(ca.cert, ca.key, ca.parents[:-1]))


def _federated_id(m: Materials, kind: str) -> str:
    authority = must(m.federated if kind == "federated" else m.lookalike, kind)
    spiffe_id = f"spiffe://{authority.trust_domain}/spiffebind/node-1"
    return _as_issuer(m, authority.issue(spiffe_id), spiffe_id)


def _stranger(m: Materials) -> str:
    spiffe_id = f"spiffe://{m.stranger.trust_domain}/spiffebind/node-1"
    return _as_issuer(m, m.stranger.issue(spiffe_id), spiffe_id)


def _pem_entry(m: Materials) -> str:
    pem = m.signer.cert.public_bytes(serialization.Encoding.PEM).decode()
    return _entry(m, lambda _: pem)


def _entry(m: Materials, change: Callable[[str], str]) -> str:
    """The baseline's ``x5c`` with its leaf entry rewritten by ``change``."""
    first, *rest = x5c(m.signer.chain)
    return _x5c(m, [change(first), *rest])


SIGNERS: tuple[Case, ...] = (
    case("J53", "x5c-missing", UNTRUSTED, lambda m: _x5c(m, DROP)),
    case("J54", "x5c-empty-array", UNTRUSTED, lambda m: _x5c(m, [])),
    case("J54", "x5c-string-not-array", UNTRUSTED, lambda m: _x5c(m, x5c(m.signer.chain)[0])),
    case("J54", "x5c-number-entry", UNTRUSTED, lambda m: _x5c(m, [123])),
    case(
        "J54",
        "x5c-base64url-entry",
        UNTRUSTED,
        lambda m: _entry(m, lambda e: e.replace("+", "-").replace("/", "_").rstrip("=")),
    ),
    case("J54", "x5c-pem-armour", UNTRUSTED, _pem_entry),
    case(
        "J54",
        "x5c-entry-with-newlines",
        UNTRUSTED,
        lambda m: _entry(m, lambda e: e[:64] + "\n" + e[64:]),
    ),
    case(
        "J54",
        "x5c-garbage-der",
        UNTRUSTED,
        lambda m: _x5c(m, [base64.b64encode(b"not a certificate").decode()]),
    ),
    case("J54", "x5c-invalid-version-field", UNTRUSTED, _bad_version),
    case(
        "J55",
        "self-signed-signer",
        UNTRUSTED,
        lambda m: m.token(signer=self_signed(m, m.signer_id)),
    ),
    case(
        "J56",
        "x5c-brings-its-own-root",
        UNTRUSTED,
        lambda m: m.token(
            header={"x5c": x5c([(s := m.rogue.issue(m.signer_id)).cert, m.rogue.cert])}, signer=s
        ),
    ),
    case(
        "J56",
        "rogue-ca-same-trust-domain-name",
        UNTRUSTED,
        lambda m: m.token(signer=m.rogue.issue(m.signer_id)),
    ),
    case(
        "J56",
        "rogue-intermediate-same-trust-domain-name",
        UNTRUSTED,
        lambda m: m.token(signer=m.rogue.intermediate().issue(m.signer_id)),
    ),
    case(
        "J56",
        "agent-svid-used-as-issuing-ca",
        UNTRUSTED,
        lambda m: m.token(signer=issued_by_agent(m, m.signer_id)),
    ),
    case(
        "J57",
        "x5c-missing-intermediate",
        UNTRUSTED,
        lambda m: _x5c(m, x5c([m.signer.cert])),
        "intermediate",
    ),
    case(
        "J58",
        "x5c-reversed-chain",
        UNTRUSTED,
        lambda m: _x5c(m, x5c(m.signer.chain[::-1])),
        "intermediate",
    ),
    case(
        "J59",
        "signer-expired",
        UNTRUSTED,
        lambda m: _issued(m, not_before=m.when - 3 * HOUR, ttl=HOUR),
        "ca",
    ),
    case(
        "J59",
        "signer-not-yet-valid",
        UNTRUSTED,
        lambda m: _issued(m, not_before=m.when + HOUR),
        "ca",
    ),
    case("J60", "intermediate-expired", UNTRUSTED, _expired_intermediate, "ca"),
    case(
        "J61",
        "signer-is-a-ca",
        UNTRUSTED,
        lambda m: _issued(m, is_ca=True, key_cert_sign=True),
        "ca",
    ),
    case("J61", "intermediate-ca-cert-as-signer", UNTRUSTED, _ca_cert_as_signer, "ca"),
    case(
        "J62",
        "signer-two-uri-sans",
        UNTRUSTED,
        lambda m: _issued(m, uris=[m.signer_id, "spiffe://example.org/x"]),
        "ca",
    ),
    case("J62", "signer-no-uri-san", UNTRUSTED, lambda m: _issued(m, uris=[]), "ca"),
    case(
        "J63",
        "signer-without-digital-signature",
        UNTRUSTED,
        lambda m: _issued(m, digital_signature=False),
        "ca",
    ),
    case(
        "J63",
        "signer-with-key-cert-sign",
        UNTRUSTED,
        lambda m: _issued(m, key_cert_sign=True),
        "ca",
    ),
    *(
        _named_case(f"signer-id-{name}", uri)
        for name, uri in (
            ("https-scheme", "https://example.org/spiffebind/node-1"),
            ("root-path", "spiffe://example.org"),
            ("upper-case-trust-domain", "spiffe://EXAMPLE.org/spiffebind/node-1"),
            ("dot-segment", "spiffe://example.org/spiffebind/../spiffebind/node-1"),
            ("trailing-slash", "spiffe://example.org/spiffebind/node-1/"),
            ("percent-encoded", "spiffe://example.org/spiffebind/node%2D1"),
            ("over-2048-bytes", "spiffe://example.org/spiffebind/" + "a" * 2100),
        )
    ),
    case(
        "J65",
        "federated-ca-mints-our-signer-id",
        UNTRUSTED,
        lambda m: m.token(signer=must(m.federated, "federated").issue(m.signer_id)),
        "federated",
    ),
    case("J69", "x5c-over-chain-cap", UNTRUSTED, _over_cap),
    case(
        "J66",
        "federated-signer-not-an-issuer",
        NOT_ISSUER,
        lambda m: _federated_id(m, "federated"),
        "federated",
    ),
    case("J67", "agent-svid-as-signer", NOT_ISSUER, lambda m: _as_issuer(m, m.agent, m.agent_id)),
    case(
        "J67",
        "peer-workload-svid-as-signer",
        NOT_ISSUER,
        lambda m: _as_issuer(m, m.peer, uri_of(m.peer.cert)),
    ),
    *(
        _pattern_case(f"issuer-pattern-{name}", sid)
        for name, sid in (
            ("prefix-lookalike", "spiffe://example.org/spiffebindx/node-1"),
            ("pattern-root-itself", "spiffe://example.org/spiffebind"),
        )
    ),
    case(
        "J68",
        "trust-domain-lookalike-issuer",
        NOT_ISSUER,
        lambda m: _federated_id(m, "lookalike"),
        "lookalike",
    ),
    case("J68", "trust-domain-lookalike-unfederated", UNTRUSTED, _stranger),
)
