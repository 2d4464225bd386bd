"""Every DaemonConfig field reaches the code that uses it: nothing parsed is dropped on the way
(``--spiffe-id`` once was); the identity source takes the SVID the config names; a Daemon
closes everything it opened, also when opening fails halfway."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spiffebind import config, daemon, wiring
from spiffebind.config import DaemonConfig
from spiffebind.daemon import Daemon, build_identity
from spiffebind.errors import ConfigError
from spiffebind.observe.metrics import Metrics, new_registry
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority
from spiffebind.testing.poll import wait_for
from spiffebind.testing.procfs import descriptor_kinds

CONSUMERS = (daemon, wiring)
"""The composition root: the modules that hand settings to the parts they configure."""


def _reads(tree: ast.AST, holders: set[str]) -> set[str]:
    """Attributes read from a name in ``holders`` or from any ``.config``."""
    read = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id in holders) or (
            isinstance(owner, ast.Attribute) and owner.attr == "config"
        ):
            read.add(node.attr)
    return read


def _properties() -> Iterator[tuple[str, set[str]]]:
    """DaemonConfig's properties with the fields each one reads."""
    source = ast.parse(inspect.getsource(DaemonConfig))
    for node in ast.walk(source):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        ):
            yield node.name, _reads(node, {"self"})


def consumed() -> set[str]:
    read: set[str] = set()
    for module in CONSUMERS:
        read |= _reads(ast.parse(Path(str(module.__file__)).read_text()), {"config"})
    for name, fields in _properties():
        if name in read:
            read |= fields
    return read


def test_every_field_has_a_consumer() -> None:
    fields = {f.name for f in dataclasses.fields(DaemonConfig)}
    assert fields - consumed() == set()


def test_the_check_sees_a_dropped_field() -> None:
    tree = ast.parse("def build(config):\n    return Source(config.workload_api)\n")
    assert "spiffe_id" not in _reads(tree, {"config"})
    assert "workload_api" in _reads(tree, {"config"})


@pytest.fixture
def api() -> Iterator[FakeWorkloadApi]:
    with FakeWorkloadApi() as server:
        yield server


@pytest.mark.parametrize(
    ("wanted", "taken"),
    [
        (None, "spiffe://example.org/spiffebind/node-1"),
        ("spiffe://example.org/spiffebind/node-2", "spiffe://example.org/spiffebind/node-2"),
    ],
    ids=["the-agents-first", "the-named-one"],
)
def test_the_workload_api_source_takes_the_named_svid(
    api: FakeWorkloadApi, wanted: str | None, taken: str
) -> None:
    ca = Authority.root("example.org")
    first, second = (ca.issue(f"spiffe://example.org/spiffebind/node-{n}") for n in (1, 2))
    api.set_x509(first, bundle=[ca.root_cert], also=[second])
    settings = config.validated(DaemonConfig(workload_api=api.endpoint, spiffe_id=wanted))
    source = build_identity(settings, Metrics(new_registry()))
    source.start()
    try:
        assert source.wait_ready(10).spiffe_id == taken
    finally:
        source.close()


def test_a_named_svid_the_agent_does_not_serve_is_not_taken(api: FakeWorkloadApi) -> None:
    ca = Authority.root("example.org")
    api.set_x509(ca.issue("spiffe://example.org/spiffebind/node-1"), bundle=[ca.root_cert])
    wanted = "spiffe://example.org/spiffebind/node-3"
    settings = config.validated(DaemonConfig(workload_api=api.endpoint, spiffe_id=wanted))
    source = build_identity(settings, Metrics(new_registry()))
    source.start()
    try:
        reason = wait_for(
            lambda: source.health().reason if wanted in source.health().reason else "",
            timeout=10,
            what="the source to report the SVID it lacks",
        )
    finally:
        source.close()
    assert not source.health().ready
    assert "node-1" in reason


def _open_files(under: Path) -> set[str]:
    return {path for path in descriptor_kinds(os.getpid()) if path.startswith(str(under))}


def _file_config(root: Path) -> DaemonConfig:
    ca = Authority.root("example.org")
    me = ca.issue("spiffe://example.org/spiffebind/node-1")
    for name, data in (("svid.pem", me.chain_pem()), ("key.pem", me.key_pem())):
        (root / name).write_bytes(data)
    (root / "bundle.pem").write_bytes(ca.bundle_pem)
    return DaemonConfig(
        svid=root / "svid.pem",
        svid_key=root / "key.pem",
        bundles={"example.org": root / "bundle.pem"},
        state_dir=root / "state",
        audit_log=str(root / "audit.log"),
    )


def test_closing_the_daemon_releases_every_file(tmp_path: Path) -> None:
    with Daemon(_file_config(tmp_path)) as daemon:
        daemon.identity.start()
        me = daemon.identity.wait_ready(10)
        parts = daemon.parts(me)
        assert parts.servicer is not None
        assert _open_files(tmp_path)

    assert _open_files(tmp_path) == set()


def test_a_start_that_fails_halfway_closes_what_it_opened(tmp_path: Path) -> None:
    config = _file_config(tmp_path)
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "revocations.sqlite3").write_bytes(b"not a database, " * 512)

    with pytest.raises(ConfigError, match=r"revocations\.sqlite3"):
        Daemon(config)

    assert (tmp_path / "audit.log").exists()
    assert _open_files(tmp_path) == set()
