"""Chain validation against the bundle of the leaf's own trust domain."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from tokenkit import AGENT_ID, NOW, TD, World

from spiffebind.errors import Reason, RejectedError
from spiffebind.testing.pki import Issued
from spiffebind.token.chain import TrustBundles, ValidatedChain, validate_chain


def _validate(
    world: World, issued: Issued, *, now: float = NOW, bundles: TrustBundles | None = None
) -> ValidatedChain:
    return validate_chain(
        issued.cert,
        issued.parents,
        world.bundles if bundles is None else bundles,
        now,
        Reason.UNTRUSTED_SIGNER,
    )


def _rejected(world: World, issued: Issued, **kwargs: object) -> bool:
    """True when rejected, and then always with the reason the caller asked for."""
    try:
        _validate(world, issued, **kwargs)  # type: ignore[arg-type]
    except RejectedError as exc:
        return exc.reason is Reason.UNTRUSTED_SIGNER
    return False


def test_valid_chain_records_path_and_window(world: World) -> None:
    chain = _validate(world, world.agent)
    assert chain.spiffe_id == AGENT_ID
    assert chain.trust_domain == TD
    assert chain.path == (world.agent.cert, world.inter.cert, world.root.cert)
    assert chain.not_after == world.agent.cert.not_valid_after_utc.timestamp()
    assert chain.not_before <= NOW <= chain.not_after
    assert chain.still_valid(world.bundles, NOW)


def test_still_valid_tracks_time_and_bundle(world: World) -> None:
    chain = _validate(world, world.agent)
    assert not chain.still_valid(world.bundles, chain.not_after + 1)
    assert not chain.still_valid({TD: [world.other.cert]}, NOW)
    assert not chain.still_valid({}, NOW)


def test_foreign_ca_cannot_vouch_for_our_trust_domain(world: World) -> None:
    assert _rejected(world, world.other.issue(AGENT_ID))


def test_rogue_root_with_our_name(world: World) -> None:
    assert _rejected(world, world.rogue.issue(AGENT_ID))


def test_no_bundle_for_trust_domain(world: World) -> None:
    assert _rejected(world, world.agent, bundles={"other.org": [world.other.cert]})


def test_ca_rotated_out_of_bundle(world: World) -> None:
    assert _rejected(world, world.agent, bundles={TD: [world.rogue.cert]})


def test_missing_intermediate_and_hint(world: World) -> None:
    with pytest.raises(RejectedError) as info:
        validate_chain(world.agent.cert, [], world.bundles, NOW, Reason.PRESENTER_MISMATCH)
    assert info.value.reason is Reason.PRESENTER_MISMATCH
    chain = validate_chain(
        world.agent.cert, [world.inter.cert], world.bundles, NOW, Reason.PRESENTER_MISMATCH
    )
    assert chain.spiffe_id == AGENT_ID


def test_expired_intermediate(world: World) -> None:
    short = world.root.intermediate(ttl=dt.timedelta(minutes=1))
    leaf = short.issue(AGENT_ID)
    assert _rejected(world, leaf, now=NOW + 30) is False
    assert _rejected(world, leaf, now=NOW + 120)


def test_leaf_outside_validity(world: World) -> None:
    assert _rejected(world, world.agent, now=NOW + 7200)
    assert _rejected(world, world.agent, now=NOW - 3600)


@pytest.fixture(scope="module")
def ed25519_leaves(pki: World) -> dict[str, Issued]:
    return {
        "under-intermediate": pki.inter.issue(AGENT_ID, key_type="ed25519"),
        "under-root": pki.root.issue(AGENT_ID, key_type="ed25519"),
        "rogue": pki.rogue.issue(AGENT_ID, key_type="ed25519"),
        "foreign": pki.other.issue(AGENT_ID, key_type="ed25519"),
        "server-auth-only": pki.inter.issue(
            AGENT_ID, key_type="ed25519", eku=[ExtendedKeyUsageOID.SERVER_AUTH]
        ),
    }


def test_ed25519_leaf_is_validated_by_our_last_link(
    world: World, ed25519_leaves: dict[str, Issued]
) -> None:
    """cryptography's WebPKI policy refuses Ed25519 keys; our fallback checks the same things."""
    for name in ("under-intermediate", "under-root"):
        chain = _validate(world, ed25519_leaves[name])
        assert chain.path[-1] == world.root.cert
    for name in ("rogue", "foreign", "server-auth-only"):
        assert _rejected(world, ed25519_leaves[name]), name
    assert _rejected(world, ed25519_leaves["under-intermediate"], now=NOW + 7200)
    leaf = ed25519_leaves["under-intermediate"]
    with pytest.raises(RejectedError) as info:
        validate_chain(leaf.cert, [], world.bundles, NOW, Reason.UNTRUSTED_SIGNER)
    assert info.value.reason is Reason.UNTRUSTED_SIGNER
