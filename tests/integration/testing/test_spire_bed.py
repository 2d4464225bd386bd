"""The SPIRE test bed itself: workloads under other ids get their own SVIDs; entries go away."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed
from spiffebind.testing.svids import fetch_identity

pytestmark = pytest.mark.integration

FETCH = """\
from spiffe import WorkloadApiClient
with WorkloadApiClient() as client:
    print(client.fetch_x509_svid(timeout=10).spiffe_id)
"""


def test_workload_run_under_another_gid_gets_only_its_own_svid(spire: SpireTestBed) -> None:
    worker = "spiffe://example.org/itest/gid-1001"
    entry_id = spire.create_entry(worker, uid=0, gid=1001, x509_svid_ttl=60)
    try:
        spire.wait_for_svid(worker, uid=0, gid=1001)
        proc = spire.run([sys.executable, "-c", FETCH], gid=1001, stdout=subprocess.PIPE)
        out, _ = proc.communicate(timeout=30)

        assert proc.returncode == 0
        assert out.decode().strip() == worker
        assert worker not in spire.agent.served_ids(uid=0, gid=0)
    finally:
        spire.delete_entry(entry_id)
    wait_for(
        lambda: worker not in spire.agent.served_ids(uid=0, gid=1001),
        timeout=15,
        what="the deleted entry to leave the agent",
    )


def test_a_gid_served_two_svids_must_name_the_one_it_wants(spire: SpireTestBed) -> None:
    """Two suites that picked the same gid would each get either SVID, in SPIRE's order."""
    first, second = "spiffe://example.org/bed/first", "spiffe://example.org/bed/second"
    entries = [spire.create_entry(i, uid=0, gid=1959) for i in (first, second)]
    try:
        for wanted in (first, second):
            spire.wait_for_svid(wanted, uid=0, gid=1959)
            assert fetch_identity(spire, 1959, spiffe_id=wanted).spiffe_id == wanted
        with pytest.raises(RuntimeError, match=r"gid 1959 is served \[.*\], wanted one SVID"):
            fetch_identity(spire, 1959)
    finally:
        for entry in entries:
            spire.delete_entry(entry)
