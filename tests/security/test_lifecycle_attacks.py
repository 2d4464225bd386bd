"""Attacks that need verifier state rather than one token: revocation (J94/J95), a CA that
leaves the bundle (J71), and a verifier called without an audience (J89)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from spiffebind.errors import ConfigError, Reason, TokenRejected
from spiffebind.testing.attacks import InProcess
from spiffebind.testing.attacks.algorithms import high_s_twin
from spiffebind.token import StaticBundles, Verifier


@dataclass
class Revoked:
    jtis: set[str] = field(default_factory=set)
    txns: set[str] = field(default_factory=set)

    def is_revoked(self, jti: str, txn: str | None) -> bool:
        return jti in self.jtis or txn in self.txns


def _reason(verifier: Verifier, world: InProcess, token: str) -> Reason | None:
    m = world.materials
    try:
        verifier.verify(token, audience=m.audience, presented_chain=[m.agent.cert])
    except TokenRejected as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("by", ["jti", "txn"])
def test_revoked_token_and_its_high_s_twin_are_both_revoked(world: InProcess, by: str) -> None:
    """J94/J95: revocation keys on the claims, never on the token's bytes."""
    m = world.materials
    token = m.token()
    twin = high_s_twin(token, ec.SECP256R1())
    assert twin != token
    assert _reason(world.verifier(revocation=Revoked()), world, twin) is None
    revoked = Revoked(txns={m.claims["txn"]}) if by == "txn" else Revoked(jtis={m.claims["jti"]})
    verifier = world.verifier(revocation=revoked)
    assert [_reason(verifier, world, t) for t in (token, twin)] == [Reason.REVOKED] * 2


def test_ca_rotated_out_of_the_bundle(world: InProcess) -> None:
    """J71: a token that verified (and is cached) is refused once its root leaves the bundle."""
    bundles = dict(world.bundles)
    verifier = world.verifier(bundles=StaticBundles(bundles))
    token = world.materials.token()
    assert _reason(verifier, world, token) is None
    bundles["example.org"] = [world.materials.rogue.cert]
    assert _reason(verifier, world, token) is Reason.UNTRUSTED_SIGNER


def test_no_expected_audience_is_a_usage_error(world: InProcess) -> None:
    """J89: fail closed, never valid."""
    m = world.materials
    with pytest.raises(ConfigError):
        world.verifier().verify(m.token(), audience="", presented_chain=[m.agent.cert])
