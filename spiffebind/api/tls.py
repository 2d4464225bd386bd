"""Server-side mutual TLS with the daemon's own SVID, following its rotations.

grpc asks for the certificate configuration at every handshake; :func:`svid_credentials`
answers with a new one only when the SVID or the trust bundles changed, so a rotation
takes effect on the next connection without a restart. Clients must present a certificate
that chains to one of the X.509 bundles the daemon holds (its own trust domain and
federated ones); grpc refuses the handshake otherwise.
"""

from __future__ import annotations

import grpc
from cryptography.hazmat.primitives import serialization

from spiffebind.errors import IdentityError
from spiffebind.identity.source import Identity, IdentitySource


def _pem(identity: Identity) -> grpc.ServerCertificateConfiguration:
    key = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in identity.chain)
    roots = b"".join(
        c.public_bytes(serialization.Encoding.PEM)
        for certs in identity.x509_bundles.values()
        for c in certs
    )
    return grpc.ssl_server_certificate_configuration([(key, chain)], root_certificates=roots)


def svid_credentials(source: IdentitySource, first: Identity) -> grpc.ServerCredentials:
    """mTLS credentials serving ``first`` and then whatever ``source`` holds."""
    served = [first]

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        """Called by grpc on its own thread before each handshake; None keeps the current one.
        An expired identity is kept too: handshakes then fail, as they must."""
        try:
            identity = source.current()
        except IdentityError:
            return None
        if identity == served[0]:
            return None
        served[0] = identity
        return _pem(identity)

    # grpc documents None as "keep the current configuration"; grpc-stubs omits it.
    return grpc.dynamic_ssl_server_credentials(
        _pem(first),
        fetch,  # type: ignore[arg-type]
        require_client_authentication=True,
    )
