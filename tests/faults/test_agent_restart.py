"""The SPIRE agent is killed and restarted while agents keep issuing and verifying.

The daemon's SVID (five minutes) outlives the outage, so it goes on issuing; verification
never needs the agent. The only failure allowed is UNAVAILABLE from issuance; afterwards the
daemon's Workload API streams are back (reconnect counted, ``workload_api_up`` 1).
"""

from __future__ import annotations

import pytest
from faultkit import Held, Load, node

from spiffebind.testing.agents import Agent, connect, issue
from spiffebind.testing.poll import wait_for
from spiffebind.testing.records import sample
from spiffebind.testing.spire import SpireTestBed

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_agent_killed_and_restarted_under_load(bed: SpireTestBed, signer: Agent) -> None:
    with node(bed, 1611) as daemon, connect(daemon.socket) as stub:
        held = Held(
            issue(stub, signer.issue_proof(daemon.spiffe_id, "held")).access_token, signer.identity
        )
        reconnects = sample(daemon, "spiffebind_workload_api_reconnects_total", stream="x509")
        with Load(daemon, lambda: signer.identity, held=[held]) as load:
            load.advance(10)
            bed.agent.kill()
            try:
                wait_for(
                    lambda: sample(daemon, "spiffebind_workload_api_up") == 0,
                    timeout=30,
                    what="the daemon to notice the agent is gone",
                )
                load.advance(30)  # served while the agent is down
            finally:
                bed.agent.start()
            wait_for(
                lambda: (
                    sample(daemon, "spiffebind_workload_api_up") == 1
                    and sample(daemon, "spiffebind_workload_api_reconnects_total", stream="x509")
                    > reconnects
                ),
                timeout=60,
                interval=0.5,
                what="the daemon's Workload API streams to come back",
            )
            load.advance(10)
        tally = load.tally()
    assert set(tally.verified) == {"valid"}, tally.verified
    assert set(tally.issued) <= {"OK", "UNAVAILABLE"}, tally.issued
    assert tally.issued["OK"] >= 40
