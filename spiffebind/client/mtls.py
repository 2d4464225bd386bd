"""mTLS with X.509-SVIDs over the standard library's ``ssl``: contexts and the peer's identity.

A bound token is only half the proof; the other half is the certificate the caller shows on
its TLS connection. ``ssl`` loads certificates and keys only from files, so the SVID and key
go to a 0600 file in a fresh 0700 directory (on tmpfs where there is one) that is removed as
soon as OpenSSL has read it. SPIFFE IDs are not hostnames: a client turns hostname checks
off and checks the server's SPIFFE ID itself (:func:`expect_peer`) before it sends anything.

::

    context = client_context(identity.signing, identity.x509_bundles["example.org"])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
    connection.connect()
    expect_peer(connection.sock, "spiffe://example.org/tools/search")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from spiffebind.errors import PeerError, Reason, RejectedError
from spiffebind.identity.source import Identity, IdentitySource
from spiffebind.token import SigningIdentity, spiffe_id_of

TMPFS = Path("/dev/shm")  # noqa: S108 - only ever the parent of a fresh mkdtemp


def client_context(
    svid: SigningIdentity,
    authorities: Iterable[x509.Certificate],
    *,
    key_dir: Path | None = None,
) -> ssl.SSLContext:
    """Presents ``svid`` and trusts servers chaining to ``authorities`` (one trust domain's
    bundle); the server's SPIFFE ID is the caller's to check, with :func:`expect_peer`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    return _configure(context, svid, authorities, key_dir)


def server_context(
    svid: SigningIdentity,
    authorities: Iterable[x509.Certificate],
    *,
    key_dir: Path | None = None,
) -> ssl.SSLContext:
    """Presents ``svid`` and requires a client certificate chaining to ``authorities``."""
    return _configure(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), svid, authorities, key_dir)


class FollowingServerContext:
    """Server TLS that always presents the source's current SVID and trusts its current bundle.

    Each identity update builds a fresh :func:`server_context`; the handshake's SNI callback
    (OpenSSL calls it for every ClientHello, with or without SNI) switches the connection to
    the newest one. No live context is ever modified, so updates on the source's thread never
    race handshakes. Pass :attr:`context` to the server (uvicorn's ``ssl_context_factory``).
    """

    def __init__(self, source: IdentitySource, *, key_dir: Path | None = None) -> None:
        self._key_dir = key_dir
        self.context = self._current = self._build(source.current())
        self.context.sni_callback = self._switch
        source.subscribe(self._update)

    def _build(self, identity: Identity) -> ssl.SSLContext:
        bundle = identity.x509_bundles[identity.trust_domain]
        return server_context(identity.signing, bundle, key_dir=self._key_dir)

    def _update(self, identity: Identity) -> None:
        self._current = self._build(identity)

    def _switch(
        self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        connection.context = self._current


def peer_chain_der(sock: ssl.SSLSocket | ssl.SSLObject) -> list[bytes]:
    """What the peer presented, DER, leaf first, as ``VerifyToken`` takes it.

    ``ssl`` before Python 3.13 exposes only the peer's leaf; the daemon completes the path
    from intermediates it knows, and trust comes from the bundle alone either way.
    """
    der = sock.getpeercert(binary_form=True)
    if not der:
        raise PeerError("the peer presented no certificate")
    return [der]


def peer_spiffe_id(sock: ssl.SSLSocket | ssl.SSLObject) -> str:
    """The SPIFFE ID of the peer's leaf; PeerError when it is not an X.509-SVID."""
    leaf = x509.load_der_x509_certificate(peer_chain_der(sock)[0])
    try:
        return spiffe_id_of(leaf, Reason.PRESENTER_MISMATCH)
    except RejectedError as exc:
        raise PeerError(f"the peer's certificate: {exc.detail}") from None


def expect_peer(sock: ssl.SSLSocket | ssl.SSLObject, spiffe_id: str) -> None:
    """PeerError unless the peer is ``spiffe_id``: call it before sending any secret."""
    found = peer_spiffe_id(sock)
    if found != spiffe_id:
        raise PeerError(f"the peer is {found}, expected {spiffe_id}")


def _configure(
    context: ssl.SSLContext,
    svid: SigningIdentity,
    authorities: Iterable[x509.Certificate],
    key_dir: Path | None,
) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    pem = serialization.Encoding.PEM
    context.load_verify_locations(cadata="".join(c.public_bytes(pem).decode() for c in authorities))
    with _private_pem(svid, key_dir) as path:
        context.load_cert_chain(path)
    return context


def scratch_parent() -> Path | None:
    """Where to make directories that hold keys: tmpfs when we may write there (a key file
    then never reaches a disk), else the default temp dir (None)."""
    return TMPFS if os.access(TMPFS, os.W_OK | os.X_OK) else None


@contextlib.contextmanager
def _private_pem(svid: SigningIdentity, key_dir: Path | None) -> Iterator[Path]:
    """Key and chain in one file only this uid can read, gone when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="sbtls", dir=key_dir or scratch_parent()))
    try:
        path = directory / "svid.pem"
        key = svid.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in svid.chain)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key + chain)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
