"""Reading SVIDs, keys and bundles from PEM files, refusing anything half-written.

A writer that rewrites a file in place can be caught mid-way; a PEM block without its END
line is then refused outright rather than parsed as a shorter chain.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from spiffebind.errors import IdentityError


def _read_pem(path: Path) -> bytes:
    """The file's bytes if every PEM block in it is complete (a half-written file is not)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"{path}: {exc.strerror}") from None
    if data.count(b"-----BEGIN ") != data.count(b"-----END ") or not data.rstrip().endswith(
        b"-----"
    ):
        raise IdentityError(f"{path}: incomplete or malformed PEM")
    return data


def read_certificates(path: Path) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM file, in order; IdentityError names the file."""
    try:
        return tuple(x509.load_pem_x509_certificates(_read_pem(path)))
    except ValueError as exc:
        raise IdentityError(f"{path}: not PEM certificates: {exc}") from None


def read_private_key(path: Path) -> PrivateKeyTypes:
    """An unencrypted PEM private key; IdentityError names the file."""
    try:
        return load_pem_private_key(_read_pem(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise IdentityError(f"{path}: not an unencrypted PEM private key: {exc}") from None
