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
    """One SSLContext for the connection's life: nats-py reuses it on every reconnect, so a
    rotation loads the new SVID (and bundle) into it (:meth:`refresh`)."""

    def __init__(self, settings: ClusterSettings, identity: BaseSource) -> None:
        self._settings = settings
        self._identity = identity
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self._settings.ca is None:
                context.check_hostname = False
            else:
                context.load_verify_locations(cafile=str(self._settings.ca))
            self._context = context
            self.refresh()
        return self._context

    def refresh(self) -> None:
        """Load the current SVID; without --cluster-ca, add the current bundle's authorities
        (an SSLContext can add trust anchors but not drop them: a restart drops old ones)."""
        context = self._context
        if context is None:
            return
        me = self._identity.current()
        if self._settings.ca is None:
            roots = me.x509_bundles.get(trust_domain_of(me.spiffe_id), ())
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
