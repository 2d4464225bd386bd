"""``CheckRequest`` messages built the way Envoy's ext_authz filter builds them.

For tests and benchmarks of an ext_authz deployment without running Envoy: header names
lower-cased with the HTTP/2 pseudo-headers included, the peer's URI SAN as ``principal``, and
the peer certificate as URL-encoded PEM with Envoy's own escape set.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography import x509
from envoy.service.auth.v3 import attribute_context_pb2 as attrs
from envoy.service.auth.v3 import external_auth_pb2 as authz

# Envoy escapes exactly these characters of the PEM text.
_ENVOY_ESCAPES = {"\n": "%0A", " ": "%20", "+": "%2B", "/": "%2F", "=": "%3D"}


def envoy_url_encode(pem: bytes) -> str:
    """PEM text escaped as Envoy fills ``attributes.source.certificate``."""
    return "".join(_ENVOY_ESCAPES.get(c, c) for c in pem.decode("ascii"))


def _principal(pem: bytes) -> str:
    leaf = x509.load_pem_x509_certificates(pem)[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return leaf.subject.rfc4514_string()
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else leaf.subject.rfc4514_string()


def check_request(
    *,
    method: str = "GET",
    path: str = "/",
    host: str = "tools.example.org",
    headers: Mapping[str, str] | None = None,
    peer_pem: bytes = b"",
    certificate: str | None = None,
    context_extensions: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> authz.CheckRequest:
    """One request; ``peer_pem`` is the client's mTLS certificate (leaf first), or pass the
    raw ``certificate`` field to send something Envoy never would. ``body`` is what Envoy
    sends with ``with_request_body`` and ``pack_as_bytes``."""
    http = attrs.AttributeContext.HttpRequest(
        id="1",
        method=method,
        path=path,
        host=host,
        scheme="https",
        protocol="HTTP/2",
        headers={
            ":authority": host,
            ":method": method,
            ":path": path,
            ":scheme": "https",
            **{name.lower(): value for name, value in (headers or {}).items()},
        },
        raw_body=body,
    )
    source = attrs.AttributeContext.Peer(
        principal=_principal(peer_pem) if peer_pem else "",
        certificate=envoy_url_encode(peer_pem) if certificate is None else certificate,
    )
    return authz.CheckRequest(
        attributes=attrs.AttributeContext(
            source=source,
            request=attrs.AttributeContext.Request(http=http),
            context_extensions=dict(context_extensions or {}),
        )
    )
