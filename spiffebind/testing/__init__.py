"""Test doubles for spiffebind and its users: a SPIFFE PKI, a fake Workload API, real SPIRE."""

from spiffebind.testing.clock import ManualClock
from spiffebind.testing.fake_workload_api import FakeWorkloadApi
from spiffebind.testing.pki import Authority, Issued
from spiffebind.testing.poll import wait_for
from spiffebind.testing.spire import SpireTestBed

__all__ = ["Authority", "FakeWorkloadApi", "Issued", "ManualClock", "SpireTestBed", "wait_for"]
