"""Rotation storm: the daemon's and the agent's SVIDs live 8 s, so each rotates about every
4 s, while workers issue and verify without pause.

Each worker signs with the agent's SVID as the Workload API serves it at that moment (this
test process is the agent); tokens minted by the daemon's previous SVID still verify, as their
x5c chain ends at the same trust bundle. Not one call may fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faultkit import Load, node

from spiffebind.identity.workload_api import WorkloadApiSource
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import sample
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SVID_TTL = 8
ROTATIONS = 4
STORM_AGENT = "spiffe://example.org/agents/storm"


@pytest.fixture
def storm_agent(bed: SpireTestBed) -> Iterator[WorkloadApiSource]:
    """This very process as an agent with short-lived SVIDs (uid 0, gid 0)."""
    entry = bed.create_entry(STORM_AGENT, uid=0, gid=0, x509_svid_ttl=SVID_TTL)
    try:
        bed.wait_for_svid(STORM_AGENT, uid=0, gid=0)
        with WorkloadApiSource(bed.agent.endpoint) as source:
            source.wait_ready(30)
            yield source
    finally:
        bed.delete_entry(entry)


def test_rotation_storm_under_load(bed: SpireTestBed, storm_agent: WorkloadApiSource) -> None:
    with node(bed, 1614, x509_svid_ttl=SVID_TTL) as daemon:
        start = sample(daemon, "spiffebind_svid_rotations_total")

        def stormed(load: Load) -> bool:
            rotated = sample(daemon, "spiffebind_svid_rotations_total") - start
            return rotated >= ROTATIONS and len(load.tally().agent_leaves) > ROTATIONS

        with Load(daemon, lambda: storm_agent.current().signing) as load:
            wait_for(
                lambda: stormed(load),
                timeout=SVID_TTL * ROTATIONS * 2,
                interval=0.5,
                what=f"{ROTATIONS} rotations of the daemon's and the agent's SVIDs",
            )
        tally = load.tally()
    assert set(tally.issued) == {"OK"}, tally.issued
    assert set(tally.verified) == {"valid"}, tally.verified
    assert tally.rounds >= 50
