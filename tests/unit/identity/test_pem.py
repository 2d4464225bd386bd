"""PEM reading: whole files only, and every refusal names the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spiffebind.errors import IdentityError
from spiffebind.identity.pem import read_certificates, read_private_key
from spiffebind.testing.pki import Authority


def test_chain_and_key_round_trip(tmp_path: Path, ca: Authority) -> None:
    issued = ca.intermediate().issue("spiffe://example.org/app")
    (tmp_path / "c.pem").write_bytes(issued.chain_pem())
    (tmp_path / "k.pem").write_bytes(issued.key_pem())

    assert read_certificates(tmp_path / "c.pem") == tuple(issued.chain)
    assert read_private_key(tmp_path / "k.pem").public_key() == issued.key.public_key()


def test_chain_cut_after_the_leaf_is_not_a_shorter_chain(tmp_path: Path, ca: Authority) -> None:
    pem = ca.intermediate().issue("spiffe://example.org/app").chain_pem()
    cut = pem[: pem.index(b"-----BEGIN", 10) + 40]
    (tmp_path / "c.pem").write_bytes(cut)

    with pytest.raises(IdentityError, match="incomplete"):
        read_certificates(tmp_path / "c.pem")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match=re.escape(str(tmp_path / "nope.pem"))):
        read_private_key(tmp_path / "nope.pem")


def test_certificate_is_not_a_key(tmp_path: Path, ca: Authority) -> None:
    (tmp_path / "k.pem").write_bytes(ca.bundle_pem)
    with pytest.raises(IdentityError, match="not an unencrypted PEM private key"):
        read_private_key(tmp_path / "k.pem")
