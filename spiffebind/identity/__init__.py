"""Where the daemon's own identity comes from: the Workload API or spiffe-helper style files."""

from spiffebind.clock import Clock
from spiffebind.identity.files import FileSource
from spiffebind.identity.pem import read_certificates, read_private_key
from spiffebind.identity.source import (
    BaseSource,
    Health,
    Identity,
    IdentitySource,
    JwtBundles,
    Subscriber,
    X509Bundles,
)
from spiffebind.identity.workload_api import Backoff, WorkloadApiSource, socket_path

__all__ = [
    "Backoff",
    "BaseSource",
    "Clock",
    "FileSource",
    "Health",
    "Identity",
    "IdentitySource",
    "JwtBundles",
    "Subscriber",
    "WorkloadApiSource",
    "X509Bundles",
    "read_certificates",
    "read_private_key",
    "socket_path",
]
