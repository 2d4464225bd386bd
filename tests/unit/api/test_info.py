"""GetInfo reports identity, expiry, trust domains, readiness, policy, revocations, uptime."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from spiffebind import __version__
from spiffebind.api.info import InfoSource
from spiffebind.errors import IdentityError
from spiffebind.identity.source import Identity
from spiffebind.service.live_policy import LivePolicy
from spiffebind.testing.clock import ManualClock
from spiffebind.testing.pki import Authority
from spiffebind.token.jose import ALGORITHMS

DAEMON = "spiffe://example.org/spiffebind/node-1"
POLICY = """rules:
  - id: one
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/search"]
    scopes: ["search:read"]
    max_ttl: 600
  - id: two
    clients: ["spiffe://example.org/agents/*"]
    audiences: ["spiffe://example.org/tools/mail"]
    scopes: ["mail:send"]
    max_ttl: 600
"""


@dataclass
class HeldIdentity:
    """Just what InfoSource asks of an identity source."""

    identity: Identity | None

    def current(self) -> Identity:
        if self.identity is None:
            raise IdentityError("waiting for the first SVID")
        return self.identity


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _identity() -> Identity:
    ca, other = Authority.root("example.org"), Authority.root("other.org")
    svid = ca.issue(DAEMON)
    return Identity(
        chain=tuple(svid.chain),
        private_key=svid.key,
        x509_bundles={"other.org": (other.root_cert,), "example.org": (ca.root_cert,)},
    )


def _source(
    identity: Identity | None, policy_file: Path, readiness: tuple[bool, str] = (True, "")
) -> InfoSource:
    clock = ManualClock(1000.0)
    source = InfoSource(
        identity=HeldIdentity(identity),  # type: ignore[arg-type]
        readiness=lambda: readiness,
        policy=LivePolicy(policy_file, 3600),
        revocation_counts=lambda: (3, 2),
        default_ttl=300,
        max_ttl=3600,
        request_window=60,
        started=990.0,
        clock=clock.now,
    )
    clock.advance(2.5)
    return source


def test_a_ready_daemon_reports_everything(policy_file: Path) -> None:
    identity = _identity()
    info = _source(identity, policy_file).info()

    assert info.spiffe_id == DAEMON
    assert list(info.trust_domains) == ["example.org", "other.org"]
    assert info.svid_expires_at == int(identity.not_after)
    assert (info.ready, info.not_ready_reason) == (True, "")
    assert info.policy_digest == hashlib.sha256(policy_file.read_bytes()).hexdigest()
    assert info.policy_rules == 2
    assert info.revocations_held == 5
    assert info.uptime_seconds == 12.5
    assert info.version == __version__
    assert list(info.algorithms) == sorted(ALGORITHMS)
    assert (info.default_ttl_seconds, info.max_ttl_seconds) == (300, 3600)
    assert info.request_window_seconds == 60


def test_not_ready_carries_the_daemons_reason_and_still_shows_the_identity(
    policy_file: Path,
) -> None:
    why = "state directory /var/lib/spiffebind is not writable"
    info = _source(_identity(), policy_file, readiness=(False, why)).info()

    assert (info.ready, info.not_ready_reason) == (False, why)
    assert info.spiffe_id == DAEMON


def test_without_an_identity_the_identity_fields_are_empty(policy_file: Path) -> None:
    info = _source(None, policy_file, readiness=(False, "waiting for the first SVID")).info()

    assert (info.spiffe_id, list(info.trust_domains), info.svid_expires_at) == ("", [], 0)
    assert (info.ready, info.not_ready_reason) == (False, "waiting for the first SVID")
    assert info.policy_rules == 2


def test_a_reload_shows_up_in_the_next_answer(policy_file: Path) -> None:
    source = _source(_identity(), policy_file)
    before = source.info().policy_digest
    policy_file.write_text(POLICY.split("  - id: two", maxsplit=1)[0])
    source.policy.reload()

    after = source.info()
    assert after.policy_rules == 1
    assert after.policy_digest != before
    assert after.policy_digest == hashlib.sha256(policy_file.read_bytes()).hexdigest()
