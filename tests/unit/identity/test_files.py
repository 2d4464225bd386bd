"""The file source: atomic and non-atomic rewrites, and every bad file refused by name."""

from __future__ import annotations

import os
import queue
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spiffebind.errors import ConfigError, IdentityError
from spiffebind.identity.files import FileSource
from spiffebind.identity.source import Identity
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.pki import Authority, Issued, new_key
from spiffebind.testing.poll import wait_for

APP = "spiffe://example.org/app"


class Files:
    """The three files a spiffe-helper would write, in one directory."""

    def __init__(self, root: Path, ca: Authority) -> None:
        self.svid, self.key, self.bundle = root / "svid.pem", root / "svid_key.pem", root / "b.pem"
        self.bundle.write_bytes(ca.bundle_pem)

    def write(self, issued: Issued) -> None:
        self.svid.write_bytes(issued.chain_pem())
        self.key.write_bytes(issued.key_pem())

    def replace_atomically(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def source(self, clock: ManualClock | None = None) -> FileSource:
        kwargs = {"clock": clock} if clock else {}
        return FileSource(
            self.svid, self.key, {"example.org": self.bundle}, poll_interval=0.01, **kwargs
        )


@pytest.fixture
def files(tmp_path: Path, ca: Authority) -> Files:
    f = Files(tmp_path, ca)
    f.write(ca.issue(APP))
    return f


@pytest.fixture
def source(files: Files) -> Iterator[FileSource]:
    with files.source() as src:
        yield src


def refused(source: FileSource, text: str) -> bool:
    return text in source.health().reason


def test_files_are_read_at_construction(files: Files, ca: Authority) -> None:
    source = files.source()

    identity = source.current()
    assert identity.spiffe_id == APP
    assert dict(identity.x509_bundles) == {"example.org": (ca.root_cert,)}
    assert source.health().ready


def test_rotation_by_atomic_rename_reaches_subscribers(
    files: Files, ca: Authority, source: FileSource
) -> None:
    seen: queue.Queue[Identity] = queue.Queue()
    source.subscribe(seen.put)
    old = seen.get(timeout=5)

    rotated = ca.issue(APP)
    files.replace_atomically(files.key, rotated.key_pem())
    files.replace_atomically(files.svid, rotated.chain_pem())

    new = seen.get(timeout=5)
    assert new.chain[0] == rotated.cert != old.chain[0]


def test_key_not_matching_the_leaf_is_refused_and_old_identity_kept(
    files: Files, source: FileSource
) -> None:
    held = source.current()

    files.replace_atomically(files.key, Issued(held.chain[0], new_key()).key_pem())

    wait_for(lambda: refused(source, "does not match"), timeout=5, what="refusal")
    assert source.current() is held
    assert source.health().ready


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda pem: pem[: len(pem) // 2], id="half_written"),
        pytest.param(lambda pem: pem.replace(b"M", b"*", 3), id="corrupt_base64"),
        pytest.param(lambda pem: b"", id="empty"),
    ],
)
def test_damaged_certificate_file_is_refused_until_fixed(
    files: Files, ca: Authority, source: FileSource, damage: Callable[[bytes], bytes]
) -> None:
    held = source.current()
    rotated = ca.issue(APP)

    files.replace_atomically(files.key, rotated.key_pem())
    files.svid.write_bytes(damage(rotated.chain_pem()))
    wait_for(lambda: refused(source, str(files.svid)), timeout=5, what="refusal")
    assert source.current() is held

    files.svid.write_bytes(rotated.chain_pem())
    wait_for(lambda: source.current().chain[0] == rotated.cert, timeout=5, what="rotation")
    assert source.health().reason == "ok"


def test_deleted_file_keeps_identity(files: Files, source: FileSource) -> None:
    held = source.current()
    files.bundle.unlink()

    wait_for(lambda: refused(source, str(files.bundle)), timeout=5, what="refusal")
    assert source.current() is held


def test_expiry_on_the_injected_clock(files: Files) -> None:
    clock = ManualClock()
    source = files.source(clock)
    clock.t = source.current().not_after

    assert not source.health().ready
    with pytest.raises(IdentityError, match="expired"):
        source.current()
    assert list(source.bundles()) == ["example.org"]


@pytest.mark.parametrize("name", ["svid", "key", "bundle"])
def test_missing_file_is_waited_for_by_name_then_served(files: Files, name: str) -> None:
    """At pod start the writer (spiffe-helper, a CSI driver) may come after the daemon."""
    path: Path = getattr(files, name)
    content = path.read_bytes()
    path.unlink()
    with files.source() as source:
        health = source.health()
        assert not health.ready
        assert health.reason == f"waiting for the first SVID: files: waiting for {path}"
        files.replace_atomically(path, content)
        assert source.wait_ready(10).spiffe_id == APP
        assert source.health().reason == "ok"


def test_malformed_key_is_a_config_error_naming_it(files: Files) -> None:
    files.key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=re.escape(str(files.key))):
        files.source()


def test_leaf_with_two_uri_sans_is_not_an_svid(files: Files, ca: Authority) -> None:
    files.write(ca.issue(APP, uris=[APP, "spiffe://example.org/other"]))
    with pytest.raises(ConfigError, match="exactly one URI SAN"):
        files.source()


def test_bundle_for_the_own_trust_domain_is_required(files: Files) -> None:
    with pytest.raises(ConfigError, match=r"no X\.509 bundle"):
        FileSource(files.svid, files.key, {"other.org": files.bundle})


def test_bundle_trust_domain_must_be_valid(files: Files) -> None:
    with pytest.raises(ConfigError, match=r"Example\.org"):
        FileSource(files.svid, files.key, {"Example.org": files.bundle})


def test_subscriber_gets_the_held_identity_at_once(source: FileSource) -> None:
    seen: list[Identity] = []
    source.subscribe(seen.append)
    assert seen == [source.current()]


def test_wait_ready_returns_the_held_identity(source: FileSource) -> None:
    assert source.wait_ready(0) is source.current()
