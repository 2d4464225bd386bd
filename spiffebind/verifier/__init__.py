"""In-process verification for Python tools: the daemon's checks without a socket round trip.

Build one with :func:`from_workload_api` (or :func:`from_files`), then call
:meth:`ToolVerifier.verify` per request, or front the service with an adapter:
:mod:`spiffebind.asgi`, :mod:`spiffebind.grpc_server`, :mod:`spiffebind.mcp`.
"""

from spiffebind.service.ext_authz_credentials import Presented
from spiffebind.verifier.http import Denial, HttpGuard, denial
from spiffebind.verifier.mirror import RevocationMirror
from spiffebind.verifier.tool import ToolVerifier, from_files, from_workload_api

__all__ = [
    "Denial",
    "HttpGuard",
    "Presented",
    "RevocationMirror",
    "ToolVerifier",
    "denial",
    "from_files",
    "from_workload_api",
]
