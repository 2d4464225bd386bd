"""An agent's X.509-SVID and key as SPIRE hands them to one uid/gid, for in-process signing.

Tests that play several agents register each under its own gid (so that neither the daemon
nor the pytest process is served their SVIDs), fetch each identity once as that gid with
``spire-agent api fetch x509 -write``, and sign requests with it in-process.
"""

from __future__ import annotations

from spiffebind.testing.spire import SpireTestBed
from spiffebind.token import SigningIdentity


def fetch_identity(
    bed: SpireTestBed, gid: int, uid: int = 0, spiffe_id: str | None = None
) -> SigningIdentity:
    """The SVID, with its key, the agent serves ``uid``/``gid`` right now: the one named
    ``spiffe_id``, or else the only one. A gid served several SVIDs is ambiguous (SPIRE's
    order is not stable; two suites may have picked the same gid), so it must be named."""
    served = bed.agent.fetch_x509_svids(uid=uid, gid=gid)
    if spiffe_id is not None:
        served = [svid for svid in served if svid.spiffe_id == spiffe_id]
    if len(served) != 1:
        ids = sorted(s.spiffe_id for s in bed.agent.fetch_x509_svids(uid=uid, gid=gid))
        wanted = spiffe_id or "one SVID"
        raise RuntimeError(f"uid {uid} gid {gid} is served {ids}, wanted {wanted}")
    return served[0]
