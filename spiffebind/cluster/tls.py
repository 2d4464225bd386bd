"""TLS to NATS with the daemon's own X.509-SVID as the client certificate.

The server is verified against ``--cluster-ca`` (an ordinary CA and host name check), or
else against the SPIFFE bundle of the daemon's own trust domain. A SPIFFE server SVID names
no host, so in that mode the name is not checked: any workload of the trust domain could
stand in for the server, and that is acceptable because the feed never trusts the engine
for content (every entry is signed by a peer daemon); it only trusts it for availability.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from spiffebind.cluster.settings import ClusterSettings
from spiffebind.identity.source import BaseSource
from spiffebind.spiffeid import trust_domain_of


class ClientTls:
    """Builds the connection's SSLContext from the identity current at (re)connect time."""

    def __init__(self, settings: ClusterSettings, identity: BaseSource) -> None:
        self._settings = settings
        self._identity = identity

    def context(self) -> ssl.SSLContext:
        me = self._identity.current()
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self._settings.ca is not None:
            context.load_verify_locations(cafile=str(self._settings.ca))
        else:
            roots = me.x509_bundles.get(trust_domain_of(me.spiffe_id), ())
            context.check_hostname = False
            context.load_verify_locations(
                cadata="".join(
                    c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in roots
                )
            )
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in me.chain)
        key = me.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _load_chain(context, chain, key)
        return context


def _load_chain(context: ssl.SSLContext, chain: bytes, key: bytes) -> None:
    """``ssl`` reads certificates and keys from files only: a private directory, removed
    as soon as they are loaded."""
    with tempfile.TemporaryDirectory(prefix="spiffebind-tls-") as directory:
        cert_path, key_path = Path(directory) / "svid.pem", Path(directory) / "key.pem"
        for path, data in ((cert_path, chain), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        context.load_cert_chain(str(cert_path), str(key_path))
