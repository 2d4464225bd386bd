"""Upstream OAuth2 issuers whose access tokens an agent may exchange for a bound token.

Configuration (``settings``), the pure checks (``grant``, ``jwt``), and the only network
calls (``fetch``: JWKS and RFC 7662 introspection, bounded in time).
"""

from spiffebind.upstream.grant import UpstreamGrant
from spiffebind.upstream.settings import Introspection, UpstreamIssuer, parse_upstream_issuers
from spiffebind.upstream.validator import UpstreamValidator

__all__ = [
    "Introspection",
    "UpstreamGrant",
    "UpstreamIssuer",
    "UpstreamValidator",
    "parse_upstream_issuers",
]
